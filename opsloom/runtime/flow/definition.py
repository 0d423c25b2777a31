"""A flow document, checked and compiled against its form.

`check_flow` yields every problem with its JSON path (one small check per
rule, as the form checks do); `compile_flow` turns a published document into
the engine's `Flow`, with the branch conditions parsed by the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opsloom.platform.errors import BadRequest, FieldError
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.fields import Invalid, unit_of
from opsloom.runtime.flow.model import Flow, Node
from opsloom.runtime.flow.nodes import node_type, successors, walk_until
from opsloom.runtime.flow.signing import steps_name_their_signature_field
from opsloom.runtime.flow.step_rules import rows_name_editable_subforms
from opsloom.runtime.forms import CompiledForm

Document = Mapping[str, Any]
PEOPLE = ("user", "department")  # what a field names for a flow to route to (a department: its head)


def compile_flow(document: Document, version: int, form: CompiledForm) -> Flow:
    nodes = {n["id"]: Node(n["id"], n["type"], _annotate(n, form)) for n in document["nodes"]}
    start = next(n.id for n in nodes.values() if node_type(n).starts)
    conditions = {}
    for i, n in enumerate(document["nodes"]):
        for j, condition in enumerate(node_type(n).branch_conditions(n)):
            conditions[(n["id"], j)] = parse_condition(condition, form, f"nodes[{i}].branches[{j}].condition")
    return Flow(
        key=document["key"],
        form=document["form"],
        version=version,
        nodes=nodes,
        start=start,
        settings=document.get("settings", {}),
        conditions=conditions,
        in_parallel=frozenset(_parallel_regions(nodes)),
    )


def _annotate(node: Document, form: CompiledForm) -> dict[str, Any]:
    """Field approvers learn what their field links to (a department means its head)."""
    out = dict(node)
    for key in ("approvers", "recipients"):
        if key in node:
            out[key] = [
                {**s, "field_link": unit_of(form.by_key[s["field"]]).link}
                if s["kind"] == "field" and s["field"] in form.by_key
                else s
                for s in node[key]
            ]
    return out


def _parallel_regions(nodes: Mapping[str, Node]) -> set[str]:
    raw = {node_id: node.raw for node_id, node in nodes.items()}
    inside: set[str] = set()
    for node in nodes.values():
        region = node_type(node).region(node.raw)
        if region is not None:
            branches, join = region
            for start in branches:
                inside |= walk_until(raw, start, join)
    return inside


# ------------------------------------------------------------------ checks

Check = Callable[[Document, CompiledForm], Iterator[FieldError]]


def _indexed(document: Document) -> Iterator[tuple[int, Document]]:
    yield from enumerate(document.get("nodes", []))


def ids_are_unique(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    seen: dict[str, int] = {}
    for i, n in _indexed(document):
        if n["id"] in seen:
            yield FieldError(f"nodes[{i}].id", f"'{n['id']}' is already used by nodes[{seen[n['id']]}]")
        seen.setdefault(n["id"], i)


def one_start_and_an_end(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    starts = [i for i, n in _indexed(document) if node_type(n).starts]
    if len(starts) != 1:
        yield FieldError("nodes", f"a flow has exactly one start node; this one has {len(starts)}")
    if not any(node_type(n).ends for _, n in _indexed(document)):
        yield FieldError("nodes", "a flow needs an end node")


def references_exist(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    ids = {n["id"] for _, n in _indexed(document)}
    for i, n in _indexed(document):
        for path, target in node_type(n).references(n):
            if target is not None and target not in ids:
                yield FieldError(f"nodes[{i}].{path}", f"'{target}' is not a node of this flow")
        yield from node_type(n).check_links(f"nodes[{i}]", n)


def every_node_is_reachable_and_reaches_an_end(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    nodes = {n["id"]: n for _, n in _indexed(document)}
    start = next((n["id"] for n in nodes.values() if node_type(n).starts), None)
    if start is None:
        return
    reachable = _closure(start, lambda x: successors(nodes[x]) if x in nodes else [])
    for i, n in _indexed(document):
        if n["id"] not in reachable:
            yield FieldError(f"nodes[{i}]", f"'{n['id']}' cannot be reached from the start; link it or remove it")
    ends = {n["id"] for n in nodes.values() if node_type(n).ends}
    for i, n in _indexed(document):
        after = _closure(n["id"], lambda x: successors(nodes[x]) if x in nodes else [])
        if not after & ends:
            yield FieldError(f"nodes[{i}]", f"no path from '{n['id']}' reaches an end node")
        elif n["id"] in _closure_strict(n["id"], nodes):
            yield FieldError(f"nodes[{i}]", f"'{n['id']}' leads back to itself; a flow goes forward (use return)")


def _closure(start: str, successors: Callable[[str], list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in successors(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _closure_strict(start: str, nodes: Mapping[str, Document]) -> set[str]:
    """Nodes reachable in one step or more (a node is in its own set only on a cycle)."""
    out: set[str] = set()
    for first in successors(nodes[start]) if start in nodes else []:
        out |= _closure(first, lambda x: successors(nodes[x]) if x in nodes else [])
    return out


def node_types_agree(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    """Each node's own checks, asked of its type (a parallel's join, a join's parallel, ...)."""
    nodes = {n["id"]: n for _, n in _indexed(document)}
    for i, n in _indexed(document):
        yield from node_type(n).check(f"nodes[{i}]", n, nodes)


def conditions_parse_and_cover(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    for i, n in _indexed(document):
        if not node_type(n).by_condition:
            continue
        for j, condition in enumerate(node_type(n).branch_conditions(n)):
            try:
                parse_condition(condition, form, f"nodes[{i}].branches[{j}].condition")
            except BadRequest as error:
                yield from error.errors
        if not n.get("else") and not _covers_all(n.get("branches", []), form):
            yield FieldError(
                f"nodes[{i}].else",
                "add an else branch: when no branch matches, the record would have nowhere to go",
            )


def _covers_all(branches: list[Document], form: CompiledForm) -> bool:
    """Branches that test one required select or boolean field for every value it can take."""
    keys = {b["condition"].get("field") for b in branches}
    if len(keys) != 1:
        return False
    spec = form.by_key.get(next(iter(keys)) or "")
    possible = unit_of(spec).choices(spec) if spec is not None and spec.required else None
    if possible is None:
        return False
    covered: set[Any] = set()
    for b in branches:
        op, value = b["condition"].get("op"), b["condition"].get("value")
        if op == "eq":
            covered.add(value)
        elif op == "in" and isinstance(value, list):
            covered |= set(value)
    return possible <= covered


def people_sources_make_sense(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    for i, n in _indexed(document):
        for key in ("approvers", "recipients"):
            for j, source in enumerate(n.get(key, [])):
                path = f"nodes[{i}].{key}[{j}]"
                if source["kind"] == "field":
                    spec = form.by_key.get(source["field"])
                    if spec is None or unit_of(spec).link not in PEOPLE:
                        yield FieldError(
                            f"{path}.field",
                            f"'{source['field']}' is not a user, users or department field of {form.key}",
                        )
                if source["kind"] == "chosen":
                    if source.get("min", 1) > source.get("max", 10):
                        yield FieldError(f"{path}.min", "is larger than max")
        if n.get("when_empty") == "user" and not n.get("empty_user"):
            yield FieldError(f"nodes[{i}].empty_user", "name the user who takes the step when nobody else is found")


def field_permissions_name_fields(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    for i, n in _indexed(document):
        for key, permission in n.get("fields", {}).items():
            spec = form.by_key.get(key)
            if spec is None:
                yield FieldError(f"nodes[{i}].fields.{key}", f"'{key}' is not a field of {form.key}")
            elif permission == "editable" and not unit_of(spec).entered:
                yield FieldError(f"nodes[{i}].fields.{key}", f"{key} is computed by the system; it cannot be editable")


def actions_name_fields(document: Document, form: CompiledForm) -> Iterator[FieldError]:
    for i, n in _indexed(document):
        action = node_type(n).action(n)
        if not action or action["kind"] != "update_record":
            continue
        for key, value in action["values"].items():
            path = f"nodes[{i}].action.values.{key}"
            spec = form.by_key.get(key)
            if spec is None or not unit_of(spec).entered or unit_of(spec).child_rows:
                yield FieldError(path, f"'{key}' is not a field of {form.key} that can be set")
                continue
            try:
                unit_of(spec).parse(spec, value)
            except Invalid as problem:
                yield FieldError(path, str(problem))


FLOW_CHECKS: tuple[Check, ...] = (
    ids_are_unique,
    one_start_and_an_end,
    references_exist,
    every_node_is_reachable_and_reaches_an_end,
    node_types_agree,
    conditions_parse_and_cover,
    people_sources_make_sense,
    field_permissions_name_fields,
    actions_name_fields,
    steps_name_their_signature_field,
    rows_name_editable_subforms,
)


def check_flow(document: Document, form: CompiledForm) -> list[FieldError]:
    errors: list[FieldError] = []
    for check in FLOW_CHECKS:
        errors += list(check(document, form))
        if errors and check in (ids_are_unique, one_start_and_an_end, references_exist):
            return errors  # the graph checks need a sound graph
    return errors
