"""Two versions of a flow (or a version and the draft) compared node by node, in plain words.

Nodes are matched by their `id`, as the package upgrade matches them (package_merge.py). Each change
is a `FlowChange`: what kind it is, the node it concerns, and a sentence in the reader's language —
steps added, removed or moved (they now follow another step), renamed; who acts and who is told; how
several decide; the conditions of a branch; each field's permission, the rows a subform allows, the
comment a decision needs, the signature; other settings of a step; and the flow's own settings.

Pure: documents in, changes out. A draft with problems is compared as far as it makes sense.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsloom.designer.package_merge import MISSING
from opsloom.runtime.flow.step_rules import COMMENT_DEFAULTS, ROW_CHANGES, comment_required, row_rules

Document = Mapping[str, Any]
# settings of a step told as before -> after, with the catalog prefix of their values
WORDED = {
    "when_empty": "fl.empty.",
    "when_submitter": "fl.self.",
    "on_reject": "fl.reject.",
    "signature": "fl.signature.",
}
FLOW_SETTINGS = {
    "same_approver": ("fl.same_approver", "fl.same.", "off"),
    "resubmit": ("fl.resubmit", "fl.resubmit.", "restart"),
}
SETTING_LABELS = {
    "when_empty": "fl.when_empty",
    "when_submitter": "fl.when_submitter",
    "on_reject": "fl.on_reject",
    "signature": "fl.signature",
    "empty_user": "fl.empty_user",
    "time_limit": "fl.time_limit",
    "action": "fl.action_kind",
}
DEFAULTS = {"when_empty": "auto_pass", "when_submitter": "approve", "on_reject": "end", "signature": "none"}
# told by their own sentences (or through the links between nodes)
TOLD = {"id", "type", "label", "next", "else", "branches", "join", "approvers", "recipients", "mode", "vote_percent"}
TOLD |= {"fields", "rows", "comment"}


@dataclass(frozen=True)
class FlowChange:
    kind: str
    node: str | None
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "text": self.text}


@dataclass(frozen=True)
class Words:
    """How the sentences name things: the catalog, people by id, the form's fields (subform columns too)."""

    t: Callable[..., str]
    label: Callable[[Any], str]
    users: Mapping[int, str] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)  # field key -> its label

    def field(self, key: str) -> str:
        return self.label(self.fields.get(key)) or key


def people_in(*documents: Any) -> set[int]:
    """The user ids the documents name (to look up their names)."""
    found: set[int] = set()

    def visit(value: Any, key: str = "") -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                visit(v, k)
        elif isinstance(value, list):
            for v in value:
                visit(v, key)
        elif key in ("users", "empty_user") and isinstance(value, int) and not isinstance(value, bool):
            found.add(value)

    for document in documents:
        visit(document)
    return found


def flow_changes(before: Document, after: Document, words: Words) -> list[FlowChange]:
    return [*_flow_settings(before, after, words), *_node_changes(before, after, words)]


def _flow_settings(before: Document, after: Document, words: Words) -> Iterator[FlowChange]:
    t = words.t
    if before.get("label") != after.get("label"):
        yield FlowChange(
            "flow",
            None,
            t("fl.diff.flow_renamed", before=words.label(before.get("label")), after=words.label(after.get("label"))),
        )
    if before.get("form") != after.get("form"):
        yield FlowChange("flow", None, t("fl.diff.flow_form", before=before.get("form"), after=after.get("form")))
    old, new = _mapping(before.get("settings")), _mapping(after.get("settings"))
    for key, (label, prefix, default) in FLOW_SETTINGS.items():
        a, b = old.get(key, default), new.get(key, default)
        if a != b:
            yield FlowChange(
                "flow",
                None,
                t("fl.diff.flow_setting", setting=t(label), before=t(prefix + str(a)), after=t(prefix + str(b))),
            )


def _node_changes(before: Document, after: Document, words: Words) -> Iterator[FlowChange]:
    old, new = _nodes(before), _nodes(after)
    common = set(old) & set(new)
    old_before, new_before = _preceding(old, common), _preceding(new, common)
    for node_id, node in new.items():
        name = _name(node, words)
        if node_id not in old:
            after_text = ", ".join(f"“{_name(new[p], words)}”" for p in _predecessors(new, node_id)) or "—"
            yield FlowChange(
                "node_added",
                node_id,
                words.t("fl.diff.node_added", type=_type(node, words), node=name, after=after_text),
            )
            continue
        previous = old[node_id]
        if old_before(node_id) != new_before(node_id):
            after_text = ", ".join(f"“{_name(new[p], words)}”" for p in _predecessors(new, node_id)) or "—"
            yield FlowChange("node_moved", node_id, words.t("fl.diff.node_moved", node=name, after=after_text))
        yield from _step_changes(node_id, previous, node, words)
    for node_id, node in old.items():
        if node_id not in new:
            yield FlowChange(
                "node_removed",
                node_id,
                words.t("fl.diff.node_removed", type=_type(node, words), node=_name(node, words)),
            )


def _step_changes(node_id: str, old: Document, new: Document, words: Words) -> Iterator[FlowChange]:
    t, name = words.t, _name(new, words)

    def change(kind: str, message: str, **params: Any) -> FlowChange:
        return FlowChange(kind, node_id, t(message, node=name, **params))

    if words.label(old.get("label")) != words.label(new.get("label")):
        yield change("node_renamed", "fl.diff.node_renamed", before=_name(old, words))
    for key, kind in (("approvers", "approvers"), ("recipients", "recipients")):
        if old.get(key) != new.get(key) and (old.get(key) or new.get(key)):
            yield change(
                kind, f"fl.diff.{kind}", before=_people(old.get(key), words), after=_people(new.get(key), words)
            )
    if (old.get("mode"), old.get("vote_percent")) != (new.get("mode"), new.get("vote_percent")):
        yield change("mode", "fl.diff.mode", before=_mode(old, words), after=_mode(new, words))
    yield from _branch_changes(node_id, name, old, new, words)
    old_fields, new_fields = _mapping(old.get("fields")), _mapping(new.get("fields"))
    for key in [*new_fields, *(k for k in old_fields if k not in new_fields)]:
        a, b = old_fields.get(key, "readonly"), new_fields.get(key, "readonly")
        if a != b:
            yield change(
                "field", "fl.diff.field", field=words.field(key), before=t(f"fl.perm.{a}"), after=t(f"fl.perm.{b}")
            )
    old_rows, new_rows = _mapping(old.get("rows")), _mapping(new.get("rows"))
    for key in [*new_rows, *(k for k in old_rows if k not in new_rows)]:
        a, b = _rows(old, key, words), _rows(new, key, words)
        if a != b:
            yield change("rows", "fl.diff.rows", field=words.field(key), before=a, after=b)
    for action in COMMENT_DEFAULTS:
        a, b = comment_required(_rule_holder(old), action), comment_required(_rule_holder(new), action)
        if a != b:
            word = {True: t("fl.comment.required"), False: t("fl.comment.optional")}
            yield change("comment", "fl.diff.comment", what=t(f"fl.comment_{action}"), before=word[a], after=word[b])
    for key in [*new, *(k for k in old if k not in new)]:
        if key in TOLD or old.get(key, MISSING) == new.get(key, MISSING):
            continue
        setting = t(SETTING_LABELS[key]) if key in SETTING_LABELS else key
        if key in WORDED:
            a, b = (WORDED[key] + str(doc.get(key, DEFAULTS[key])) for doc in (old, new))
            yield change("setting", "fl.diff.setting", setting=setting, before=t(a), after=t(b))
        else:
            yield change("setting", "fl.diff.setting_changed", setting=setting)


def _branch_changes(node_id: str, name: str, old: Document, new: Document, words: Words) -> Iterator[FlowChange]:
    if old.get("type") != "condition" or new.get("type") != "condition":
        return
    a, b = _list(old.get("branches")), _list(new.get("branches"))
    for j in range(max(len(a), len(b))):
        if j >= len(a):
            yield FlowChange("conditions", node_id, words.t("fl.diff.branch_added", node=name, n=j + 1))
        elif j >= len(b):
            yield FlowChange("conditions", node_id, words.t("fl.diff.branch_removed", node=name, n=j + 1))
        elif _condition(a[j]) != _condition(b[j]):
            yield FlowChange("conditions", node_id, words.t("fl.diff.branch_changed", node=name, n=j + 1))


def _condition(branch: Any) -> Any:
    return (branch.get("condition"), branch.get("priority")) if isinstance(branch, Mapping) else branch


# ------------------------------------------------------------------ words


def _name(node: Document, words: Words) -> str:
    return words.label(node.get("label")) or str(node.get("id"))


def _type(node: Document, words: Words) -> str:
    return words.t(f"fl.type.{node.get('type')}")


def _mode(node: Document, words: Words) -> str:
    mode = node.get("mode") or "any"
    text = words.t(f"fl.mode.{mode}")
    return f"{text} ({node['vote_percent']}%)" if mode == "vote" and node.get("vote_percent") else text


def _rows(node: Document, key: str, words: Words) -> str:
    rules = row_rules(_rule_holder(node), key)
    allowed = [words.t(f"fl.row.{change}") for change in ROW_CHANGES if rules[change]]
    return ", ".join(allowed) or words.t("fl.diff.no_rows")


def _people(sources: Any, words: Words) -> str:
    texts = [_source(s, words) for s in _list(sources) if isinstance(s, Mapping)]
    return "; ".join(texts) or words.t("fl.diff.nobody")


def _source(source: Mapping[str, Any], words: Words) -> str:
    t, kind = words.t, source.get("kind")
    if kind == "users":
        names = [words.users.get(u, f"#{u}") for u in _list(source.get("users"))]
        return ", ".join(names) or t("fl.diff.nobody")
    if kind == "role":
        return t("fl.sum.role", role=source.get("role", ""))
    if kind == "department_head":
        return t("fl.sum.department_head", level=source.get("level", 1))
    if kind == "managers":
        levels = source.get("levels", 1)
        return t("fl.levels_top") if levels == "top" else t("fl.sum.managers", count=levels)
    if kind == "field":
        return t("fl.sum.field", field=words.field(str(source.get("field", ""))))
    if kind == "chosen":
        return f"{t('fl.kind.chosen')} ({source.get('min', 1)}–{source.get('max', 1)})"
    return t(f"fl.kind.{kind}")


# ------------------------------------------------------------------ the graph


def _nodes(document: Document) -> dict[str, Document]:
    return {n["id"]: n for n in _list(document.get("nodes")) if isinstance(n, Mapping) and isinstance(n.get("id"), str)}


def _links(node: Document) -> list[str]:
    targets = [node.get("next"), node.get("else")]
    targets += [b.get("next") if isinstance(b, Mapping) else b for b in _list(node.get("branches"))]
    return [x for x in targets if isinstance(x, str)]


def _predecessors(nodes: Mapping[str, Document], node_id: str) -> list[str]:
    return [other for other, node in nodes.items() if node_id in _links(node)]


def _preceding(nodes: Mapping[str, Document], common: set[str]) -> Callable[[str], frozenset[str]]:
    """The steps that a node comes after, looking through steps only one side has (a step inserted
    before a node, or removed from before it, does not move that node)."""

    def preceding(node_id: str) -> frozenset[str]:
        found: set[str] = set()
        seen = {node_id}
        todo = _predecessors(nodes, node_id)
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in common:
                found.add(current)
            else:
                todo += _predecessors(nodes, current)
        return frozenset(found)

    return preceding


def _rule_holder(node: Document) -> dict[str, Any]:
    """The node's comment and row rules, when they are well formed (a draft's may not be)."""
    return {key: node[key] for key in ("comment", "rows") if isinstance(node.get(key), Mapping)}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
