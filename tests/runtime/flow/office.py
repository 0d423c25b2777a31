"""A small office for the flow's HTTP tests: people with their own browsers, departments, forms and flows.

Flow documents are built as JSON (the designer API's input); `line` links the
steps start -> ... -> end. An `Office` lives on one running app (a module may
share it between tests: every test makes its own people, form and flow, so
their to-do lists start empty).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.builders import field, form, publish_app, records_url
from tests.conftest import another_client, create_user, log_in

PASSWORD = "flow-password-1"
_serial = itertools.count(1)

# ----------------------------------------------------------------- flow documents


def users(*people: Person | int) -> dict[str, Any]:
    return {"kind": "users", "users": [_id(p) for p in people]}


def role(key: str) -> dict[str, Any]:
    return {"kind": "role", "role": key}


def department_head(level: int = 1) -> dict[str, Any]:
    return {"kind": "department_head", "level": level}


def managers(levels: int | str = 1) -> dict[str, Any]:
    return {"kind": "managers", "levels": levels}


def from_field(key: str) -> dict[str, Any]:
    return {"kind": "field", "field": key}


def submitter() -> dict[str, Any]:
    return {"kind": "submitter"}


def chosen(**rules: Any) -> dict[str, Any]:
    return {"kind": "chosen", **rules}


def approval(node_id: str, *approvers: dict[str, Any], **raw: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "approval", "approvers": list(approvers), **raw}


def handler(node_id: str, *approvers: dict[str, Any], **raw: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "handler", "approvers": list(approvers), **raw}


def cc(node_id: str, *recipients: dict[str, Any], **raw: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "cc", "recipients": list(recipients), **raw}


def node(node_id: str, type: str, **raw: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type, **raw}


def line(*steps: dict[str, Any]) -> list[dict[str, Any]]:
    """start -> each step in turn -> end; a step that names its own `next` keeps it."""
    linked = []
    for i, step in enumerate(steps):
        following = steps[i + 1]["id"] if i + 1 < len(steps) else "end"
        linked.append(step if "next" in step or step["type"] == "end" else {**step, "next": following})
    first = steps[0]["id"] if steps else "end"
    end = [] if any(s["type"] == "end" and s["id"] == "end" for s in steps) else [node("end", "end")]
    return [node("start", "start", next=first), *linked, *end]


# The form most tests run their flows on: a title, an amount, a note a step may edit,
# a secret a step may hide, and people fields for field approvers.
REQUEST_FIELDS = (
    field("title", required=True),
    field("amount", "decimal", precision=12, scale=2),
    field("note"),
    field("secret"),
    field("owner", "user"),
    field("reviewers", "users"),
    field("team", "department"),
)


# ----------------------------------------------------------------- people and the office


@dataclass
class Person:
    id: int
    email: str
    client: TestClient

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params=params)

    def post(self, url: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(url, json=body, headers=headers)

    def tasks(self, box: str = "pending") -> list[dict[str, Any]]:
        response = self.client.get("/api/tasks", params={"box": box})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def counts(self) -> dict[str, int]:
        response = self.client.get("/api/tasks/counts")
        assert response.status_code == 200, response.text
        return response.json()

    def task(self, node: str | None = None) -> int:
        """The id of my one pending task (at `node`, when given)."""
        found = [t["id"] for t in self.tasks() if node in (None, t["node"])]
        assert len(found) == 1, (self.email, node, self.tasks())
        return found[0]

    def act(self, action: str = "approve", body: Any = None, task: int | None = None, **headers: str) -> Any:
        return self.post(f"/api/tasks/{self.task() if task is None else task}/{action}", body, **headers)

    def approve(self, **body: Any) -> dict[str, Any]:
        response = self.act("approve", body or None)
        assert response.status_code == 200, response.text
        return response.json()

    def notifications(self) -> list[tuple[str, int | None]]:
        """(kind, instance id) of my notifications, oldest first."""
        response = self.client.get("/api/notifications")
        assert response.status_code == 200, response.text
        return [(n["kind"], n["instance_id"]) for n in reversed(response.json()["items"])]

    def notified(self) -> list[str]:
        return [kind for kind, _ in self.notifications()]


def _id(person: Person | int) -> int:
    return person if isinstance(person, int) else person.id


class Office:
    """People, departments, a form and its flow, on one running app."""

    def __init__(self, admin: TestClient, app: str = "office") -> None:
        self.admin = admin
        self.app = app
        self.serial = next(_serial)
        self.form_key = ""
        self.flow_key = ""
        self.url = ""

    # ------------------------------------------------------------- organisation

    def person(self, name: str, **fields: Any) -> Person:
        email = f"{name}.{self.serial}.{next(_serial)}@example.com"
        user = create_user(self.admin, email, PASSWORD, **fields)
        browser = another_client(self.admin)
        log_in(browser, email, PASSWORD)
        return Person(user["id"], email, browser)

    def people(self, *names: str, **fields: Any) -> list[Person]:
        return [self.person(name, **fields) for name in names]

    def department(self, name: str, parent: int | None = None, head: Person | None = None) -> int:
        body: dict[str, Any] = {"name": f"{name} {self.serial}", "parent_id": parent}
        response = self.admin.post("/api/departments", json=body)
        assert response.status_code == 201, response.text
        department = response.json()["id"]
        if head is not None:
            changed = self.admin.patch(f"/api/departments/{department}", json={"head_id": head.id})
            assert changed.status_code == 200, changed.text
        return department

    def move(self, person: Person, **fields: Any) -> None:
        """Change a user's department_id or manager_id."""
        response = self.admin.patch(f"/api/users/{person.id}", json=fields)
        assert response.status_code == 200, response.text

    # ------------------------------------------------------------- design

    def publish_form(self, *fields: dict[str, Any], key: str = "request") -> str:
        """A form of this office's own (a fresh table); everyone made so far and later may use it."""
        self.form_key = f"{key}_{self.serial}"
        publish_app(self.admin, self.app, form(self.form_key, *(fields or REQUEST_FIELDS), title_field="title"))
        self.url = records_url(self.app, self.form_key)
        return self.url

    def grant(self, *people: Person, key: str | None = None, **permissions: Any) -> str:
        """A role on this office's form (every action on every row unless told) with these members."""
        key = key or f"staff_{self.serial}_{next(_serial)}"
        actions = permissions or {a: "all" for a in ("create", "read", "update", "delete")}
        role_doc = {"app": self.app, "key": key, "label": key, "permissions": {self.form_key: actions}}
        saved = self.admin.post("/api/roles", json=role_doc)
        assert saved.status_code == 200, saved.text
        if people:
            self.add_members(key, *people)
        return key

    def add_members(self, key: str, *people: Person) -> None:
        added = self.admin.post(f"/api/roles/{self.app}/{key}/members", json={"add": [p.id for p in people]})
        assert added.status_code == 200, added.text

    def flow_document(self, nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        self.flow_key = self.flow_key or f"approve_{self.serial}"
        return {"key": self.flow_key, "label": "Approve", "form": self.form_key, "nodes": nodes, **extra}

    def save_flow(self, nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        response = self.admin.put(self.flow_url(), json=self.flow_document(nodes, **extra))
        assert response.status_code == 200, response.text
        return response.json()

    def publish_flow(self, *steps: dict[str, Any], **extra: Any) -> int:
        """Save and publish a flow of `steps` (linked by `line`, unless they hold a start); answer its version."""
        nodes = list(steps) if any(s["type"] == "start" for s in steps) else line(*steps)
        saved = self.save_flow(nodes, **extra)
        assert saved["problems"] == [], saved["problems"]
        published = self.admin.post(f"{self.flow_url()}/publish")
        assert published.status_code == 200, published.text
        return published.json()["version"]

    def flow_url(self, key: str | None = None) -> str:
        return f"/api/design/apps/{self.app}/flows/{key or self.flow_key or f'approve_{self.serial}'}"

    # ------------------------------------------------------------- records

    def record(self, person: Person, **values: Any) -> dict[str, Any]:
        response = person.client.post(self.url, json={"title": "Laptops", **values})
        assert response.status_code == 201, response.text
        return response.json()

    def submit(self, person: Person, record: dict[str, Any] | int, body: Any = None, **headers: str) -> Any:
        return person.post(f"{self.record_url(record)}/submit", body, **headers)

    def submitted(self, person: Person, **values: Any) -> dict[str, Any]:
        """A record of `person`'s, submitted; answers the record."""
        created = self.record(person, **values)
        response = self.submit(person, created)
        assert response.status_code == 200, response.text
        return created

    def record_url(self, record: dict[str, Any] | int) -> str:
        return f"{self.url}/{record if isinstance(record, int) else record['id']}"

    def read(self, record: dict[str, Any] | int) -> dict[str, Any]:
        response = self.admin.get(self.record_url(record))
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, record: dict[str, Any] | int) -> str:
        return self.read(record)["status"]

    def instances(self, record: dict[str, Any] | int) -> list[dict[str, Any]]:
        response = self.admin.get(f"{self.record_url(record)}/timeline")
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def events(self, record: dict[str, Any] | int) -> list[dict[str, Any]]:
        """The events of the record's latest flow instance."""
        return self.instances(record)[-1]["events"]

    def story(self, record: dict[str, Any] | int) -> list[tuple[str, str | None]]:
        """(action, node) of the latest instance's events, in order."""
        return [(e["action"], e["node"]) for e in self.events(record)]

    def task_states(self, record: dict[str, Any] | int) -> list[tuple[str, int, str]]:
        """(node, assignee, state) of the latest instance's tasks, oldest first."""
        return [(t["node"], t["assignee_id"], t["state"]) for t in self.instances(record)[-1]["tasks"]]
