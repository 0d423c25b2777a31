"""People and departments named as a spreadsheet names them: a person by e-mail or name, a department
by name or path; a name that fits nobody (or two people) is listed for the user to map."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import field, form, list_all, publish_app
from tests.conftest import create_user
from tests.runtime.imports.helpers import commit, csv_bytes, uploaded

IMPORTS = "/api/apps/hr/forms/visit/imports"
RECORDS = "/api/apps/hr/forms/visit/records"


def department(client: TestClient, name: str, parent: int | None = None) -> int:
    response = client.post("/api/departments", json={"name": name, "parent_id": parent})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def test_people_by_email_or_name_and_departments_by_name_or_path(client: TestClient) -> None:
    head_office = department(client, "总部")
    sales = department(client, "销售部", head_office)
    factory = department(client, "工厂")
    factory_sales = department(client, "销售部", factory)  # a second 销售部: only its path names it
    wang = create_user(client, "wang@example.com", "password-123456", name="王强")["id"]
    li = create_user(client, "li@example.com", "password-123456", name="李娜")["id"]
    create_user(client, "zhang1@example.com", "password-123456", name="张伟")
    create_user(client, "zhang2@example.com", "password-123456", name="张伟")  # two of them
    publish_app(
        client,
        "hr",
        form(
            "visit",
            field("title", label="事由"),
            field("host", "user", label="接待人"),
            field("dept", "department", label="部门"),
            field("guests", "users", label="陪同"),
            title_field="title",
        ),
    )
    rows = [
        ["事由", "接待人", "部门", "陪同"],
        ["参观", "WANG@example.com", "总部/销售部", "李娜、王强"],
        ["会谈", "李娜", "工厂 / 销售部", "li@example.com"],
        ["培训", "张伟", "销售部", ""],
        ["路演", "王强", "总部", "赵六"],
    ]
    created = uploaded(client, "visits.csv", csv_bytes(rows), IMPORTS)
    unmatched = {k: [v["value"] for v in vs] for k, vs in created["unmatched"].items()}
    assert unmatched == {"host": ["张伟"], "dept": ["销售部"], "guests": ["赵六"]}
    url = f"{IMPORTS}/{created['id']}"
    values = {"host": {"张伟": wang}, "dept": {"销售部": sales}, "guests": {"赵六": None}}
    changed = client.patch(url, json={"values": values})
    assert changed.status_code == 200, changed.text
    assert changed.json()["unmatched"] == {}
    done = commit(client, url)
    assert done["counts"]["inserted"] == 4, done
    visits = {r["title"]: r for r in list_all(client, RECORDS)}
    assert (visits["参观"]["host"], visits["参观"]["dept"], sorted(visits["参观"]["guests"])) == (
        wang,
        sales,
        sorted([li, wang]),
    )
    assert (visits["会谈"]["host"], visits["会谈"]["dept"], visits["会谈"]["guests"]) == (li, factory_sales, [li])
    assert (visits["培训"]["host"], visits["培训"]["dept"]) == (wang, sales)
    assert (visits["路演"]["dept"], visits["路演"]["guests"]) == (head_office, None)  # 赵六 mapped to empty
