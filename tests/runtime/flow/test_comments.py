"""Comments on a record's flow: from its page, telling people by @, who then get a notification."""

from __future__ import annotations

from tests.runtime.flow.test_procurement_flow import REQUESTS, Company


def test_a_comment_tells_the_people_it_mentions_and_the_others_in_the_flow(client) -> None:
    company = Company(client)
    request = company.request(("Laptop", 2, "100.00"))
    assert company.requester.post(f"{REQUESTS}/{request['id']}/submit", {}).status_code == 200
    comments = f"{REQUESTS}/{request['id']}/comments"
    said = company.requester.post(comments, {"text": "VP, please have a look", "mentions": [company.vp.id]})
    assert said.status_code == 200, said.text
    assert company.vp.notified() == ["mention"]  # not in the flow yet, told all the same
    assert company.head.notified()[-1] == "comment"  # the approver waited for hears of it
    [event] = [e for e in company.timeline(request) if e["action"] == "commented"]
    assert event["comment"] == "VP, please have a look" and event["detail"]["mentions"] == [company.vp.id]
    company.vp.client.cookies.set("opsloom_locale", "en")
    page = company.vp.client.get("/notifications").text
    assert "You were mentioned in a comment on “Laptops for the new team”" in page


def test_a_mention_must_name_an_active_person(client) -> None:
    company = Company(client)
    request = company.request(("Laptop", 2, "100.00"))
    assert company.requester.post(f"{REQUESTS}/{request['id']}/submit", {}).status_code == 200
    comments = f"{REQUESTS}/{request['id']}/comments"
    refused = company.requester.post(comments, {"text": "hello", "mentions": [company.vp.id, 999999]})
    assert refused.status_code == 422 and refused.json()["errors"] == [
        {"path": "mentions[1]", "message": "is not an active user"}
    ]
    shape = company.requester.post(comments, {"text": "hello", "mentions": ["vp"]})
    assert shape.status_code == 400 and shape.json()["errors"][0]["path"] == "mentions"
    assert all(e["action"] != "commented" for e in company.timeline(request))  # nothing was written
    assert company.vp.notified() == []


def test_the_records_page_offers_a_comment_box_once_it_has_a_flow(client) -> None:
    company = Company(client)
    request = company.request(("Laptop", 2, "100.00"))
    page = f"/apps/procurement/forms/purchase_request/records/{request['id']}"
    assert 'id="comment-form"' not in company.requester.client.get(page).text  # a draft: no flow yet
    assert company.requester.post(f"{REQUESTS}/{request['id']}/submit", {}).status_code == 200
    html = company.requester.client.get(page).text
    assert f'data-comments="{REQUESTS}/{request["id"]}/comments"' in html
    assert 'data-picker="user" data-source="/api/users" data-title-field="" data-multiple>' in html
    assert "disabled data-script-ready" in html


def test_the_unread_count_follows_the_notifications(client) -> None:
    company = Company(client)
    request = company.request(("Laptop", 2, "100.00"))
    assert company.vp.client.get("/api/notifications/counts").json() == {"unread": 0}
    assert company.requester.post(f"{REQUESTS}/{request['id']}/submit", {}).status_code == 200
    comments = f"{REQUESTS}/{request['id']}/comments"
    assert company.requester.post(comments, {"text": "a look, please", "mentions": [company.vp.id]}).status_code == 200
    assert company.vp.client.get("/api/notifications/counts").json() == {"unread": 1}
    assert company.vp.post("/api/notifications/read").status_code == 200
    assert company.vp.client.get("/api/notifications/counts").json() == {"unread": 0}
