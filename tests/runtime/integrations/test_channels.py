"""Notification channels: chat robots in their own formats and signatures, e-mail over SMTP, the inbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from opsloom.runtime.integrations.notify import notify
from tests.builders import problem
from tests.runtime.integrations.helpers import APP, URL, deliver, publish_orders

CHANNELS = f"/api/apps/{APP}/channels"


def add_channel(client, **document) -> dict:
    response = client.post(CHANNELS, json=document)
    assert response.status_code == 201, response.text
    return response.json()


def test_dingtalk_gets_a_signed_action_card_linking_to_the_record(client, receiver):
    publish_orders(client)
    secret = "SEC0123456789abcdef"
    robot = add_channel(
        client,
        name="Finance group",
        channel="dingtalk",
        config={"url": receiver.url + "/robot/send?access_token=tok123"},
        secret=secret,
        events=["record.created"],
    )
    shown = client.get(f"{CHANNELS}/{robot['id']}").json()
    assert shown["config"]["url"].endswith("/robot/send?…") and shown["has_secret"] is True
    assert "secret" not in shown and "tok123" not in str(shown)
    record = client.post(URL, json={"title": "Desk", "amount": "99.00"}).json()
    assert deliver(client).delivered == 1
    [got] = receiver.requests
    assert got.query["access_token"] == "tok123"
    timestamp = got.query["timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert got.query["sign"] == base64.b64encode(expected).decode()  # URL-decoded by the receiver
    body = got.json()
    assert body["msgtype"] == "actionCard"
    card = body["actionCard"]
    assert card["title"] == f"orders #{record['id']} created" and "title: Desk" in card["text"]
    assert card["singleURL"] == f"https://ops.example.com/apps/{APP}/forms/orders/records/{record['id']}"


def test_a_robot_that_refuses_the_message_is_retried(client, receiver):
    publish_orders(client)
    robot = add_channel(client, channel="dingtalk", config={"url": receiver.url + "/robot/send?access_token=t"})
    receiver.default = (200, {"errcode": 310000, "errmsg": "sign not match"})
    assert client.post(f"{CHANNELS}/{robot['id']}/test").status_code == 200
    assert deliver(client).delivered == 0
    [pending] = client.get(f"{CHANNELS}/{robot['id']}/deliveries").json()["items"]
    assert pending["status"] == "pending" and "sign not match" in pending["error"]
    assert "sign" not in receiver.requests[0].query  # unsigned: no secret given
    assert receiver.requests[0].json()["msgtype"] == "markdown"  # no link: markdown


def test_wecom_gets_markdown_cut_to_4096_bytes(client, receiver):
    publish_orders(client)
    robot = add_channel(client, channel="wecom", config={"url": receiver.url + "/cgi-bin/webhook/send?key=k1"})

    async def long_message() -> None:
        async with client.app.state.db.session(write=True) as session:
            await notify(session, APP, robot["id"], "审批通过", "金额" * 3000, datetime.now(UTC))

    client.portal.call(long_message)
    assert deliver(client).delivered == 1
    [got] = receiver.requests
    assert got.query == {"key": "k1"}
    body = got.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("### 审批通过") and len(content.encode()) <= 4096


def test_feishu_gets_a_signed_interactive_card(client, receiver):
    publish_orders(client)
    secret = "feishu-secret"
    robot = add_channel(
        client, channel="feishu", config={"url": receiver.url + "/open-apis/bot/v2/hook/abc"}, secret=secret
    )
    receiver.default = (200, {"code": 0, "msg": "success"})
    client.post(f"{CHANNELS}/{robot['id']}/test")
    assert deliver(client).delivered == 1
    body = receiver.requests[0].json()
    expected = hmac.new(f"{body['timestamp']}\n{secret}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(expected).decode()
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"].startswith("Opsloom:")
    assert "test message" in body["card"]["elements"][0]["content"]


@pytest.fixture
def smtp() -> Iterator[list]:
    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # a free port (the controller checks it is up by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        received.append(port)  # the port, first
        yield received
    finally:
        controller.stop()


def test_email_goes_out_over_smtp(client, smtp):
    publish_orders(client)
    port = smtp.pop(0)
    client.app.state.settings.smtp_host = "127.0.0.1"
    client.app.state.settings.smtp_port = port
    mail = add_channel(client, channel="email", config={"to": ["finance@example.com"]}, events=["record.created"])
    record = client.post(URL, json={"title": "Chair"}).json()
    assert deliver(client).delivered == 1
    [envelope] = smtp
    assert envelope.rcpt_tos == ["finance@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == f"orders #{record['id']} created"
    assert "title: Chair" in message.get_payload()
    assert client.get(f"{CHANNELS}/{mail['id']}").json()["config"] == {"to": ["finance@example.com"]}


def test_the_inbox_channel_writes_notifications(client):
    publish_orders(client)
    me = client.get("/api/me").json()
    inbox = add_channel(client, channel="inbox", config={"users": [me["id"]]})
    assert client.post(f"{CHANNELS}/{inbox['id']}/test").status_code == 200
    assert deliver(client).delivered == 1
    texts = [n["text"] for n in client.get("/api/notifications").json()["items"]]
    assert any("test message" in text for text in texts), texts


def test_channels_are_checked(client, receiver):
    publish_orders(client)
    problem(client.post(CHANNELS, json={"config": {}}), 422, "channel")
    problem(client.post(CHANNELS, json={"channel": "webhook", "config": {"url": receiver.url}}), 422, "channel")
    problem(client.post(CHANNELS, json={"channel": "email", "config": {"to": ["nope"]}}), 422, "config.to[0]")
    problem(client.post(CHANNELS, json={"channel": "dingtalk", "config": {}}), 422, "config.url")
    problem(client.post(CHANNELS, json={"channel": "dingtalk", "config": []}), 422, "config")
    problem(client.post(CHANNELS, json={"channel": ["wecom"], "config": {}}), 422, "channel")
    problem(client.post(CHANNELS, json={"channel": "inbox", "config": {"users": ["x"]}}), 422, "config.users[0]")
    wecom = {"channel": "wecom", "config": {"url": receiver.url}, "secret": "s"}
    problem(client.post(CHANNELS, json=wecom), 422, "secret")
    robot = add_channel(client, channel="feishu", config={"url": receiver.url})
    problem(client.patch(f"{CHANNELS}/{robot['id']}", json={"channel": "wecom"}), 422, "channel")
    assert client.patch(f"{CHANNELS}/{robot['id']}", json={"secret": "new"}).json()["has_secret"] is True
    assert [c["id"] for c in client.get(CHANNELS).json()["items"]] == [robot["id"]]
    assert client.get(f"/api/apps/{APP}/webhooks").json()["items"] == []
