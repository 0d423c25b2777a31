"""Who approves: one small resolver per approver kind, registered in one table.

A node lists one or more sources, `"approvers": [{"kind": "role", "role": "finance"}]`;
each resolver answers the people it names, in order (a chain of managers from
the nearest up). Pure: it reads the record and the directory snapshot only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opsloom.runtime.flow.model import Context, FlowError, Reason, State

Spec = Mapping[str, Any]
Resolver = Callable[[Spec, str, State, Context], list[int]]


def _users(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    return list(spec.get("users", []))


def _role(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    return ctx.directory.role_members(spec["role"])


def _department_head(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    """The head of the submitter's department (level 1), of its parent (level 2), and so on."""
    department = ctx.directory.department_of(state.submitter)
    for _ in range(int(spec.get("level", 1)) - 1):
        department = ctx.directory.parent_of(department) if department is not None else None
    head = ctx.directory.head_of(department) if department is not None else None
    return [head] if head is not None else []


def _managers(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    """The submitter's manager, that manager's manager... up to `levels` (or "top")."""
    levels = spec.get("levels", 1)
    limit = 50 if levels == "top" else int(levels)
    chain: list[int] = []
    person = state.submitter
    while len(chain) < limit:
        manager = ctx.directory.manager_of(person)
        if manager is None or manager in chain or manager == state.submitter:
            break
        chain.append(manager)
        person = manager
    return chain


def _field(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    """A user, users or department field of the record (a department means its head)."""
    value = ctx.record.get(spec["field"])
    if value is None:
        return []
    if spec.get("field_link") == "department":
        head = ctx.directory.head_of(value)
        return [head] if head is not None else []
    return list(value) if isinstance(value, list) else [value]


def _submitter(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    return [state.submitter]


def _chosen(spec: Spec, node: str, state: State, ctx: Context) -> list[int]:
    """People the submitter picked when submitting (checked then by `check_choice`)."""
    return list(state.chosen.get(node, []))


RESOLVERS: dict[str, Resolver] = {
    "users": _users,
    "role": _role,
    "department_head": _department_head,
    "managers": _managers,
    "field": _field,
    "submitter": _submitter,
    "chosen": _chosen,
}


def named_people(specs: list[Spec]) -> list[int]:
    """The people sources name outright (not through a role, a department or a field)."""
    return [person for spec in specs if spec["kind"] == "users" for person in spec.get("users", [])]


def resolve_approvers(specs: list[Spec], node: str, state: State, ctx: Context) -> list[int]:
    """Everyone the node's sources name, in order, each once, active people only."""
    people: list[int] = []
    for spec in specs:
        for person in RESOLVERS[spec["kind"]](spec, node, state, ctx):
            if person not in people and ctx.directory.is_active(person):
                people.append(person)
    return people


def check_choice(specs: list[Spec], node: str, chosen: list[int], state: State, ctx: Context) -> None:
    """The submitter's choice for a `chosen` source: how many, and from whom."""
    for spec in specs:
        if spec["kind"] != "chosen":
            continue
        low, high = spec.get("min", 1), spec.get("max", 10)
        if not low <= len(chosen) <= high:
            raise FlowError(f"choose {low} to {high} approvers for '{node}' when submitting", Reason.INVALID)
        among = spec.get("among")
        if among:
            allowed = resolve_approvers(among, node, state, ctx)
            wrong = [p for p in chosen if p not in allowed]
            if wrong:
                raise FlowError(f"user(s) {', '.join(map(str, wrong))} cannot approve '{node}'", Reason.INVALID)
        inactive = [p for p in chosen if not ctx.directory.is_active(p)]
        if inactive:
            raise FlowError(f"user(s) {', '.join(map(str, inactive))} are not active", Reason.INVALID)
