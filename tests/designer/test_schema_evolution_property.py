"""Random form edits never lose a value: a stateful property test, over HTTP, on both databases.

A state machine publishes random edits of one form (add, rename, remove,
restore, change of type or shape, sometimes two at once) with random records
written between them, and keeps a model of what every record must hold. After
every publish each record reads back exactly as the model says: values the
form can still hold are unchanged (or converted exactly), archived fields are
hidden and come back with their values, and values are lost only where the
publish asked for `set_empty` on a value that did not convert. A publish
refused with 409 changes nothing.

One database per test function (the `client` fixture); each example gets its own app.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

FORM = "item"
KEYS = ("alpha", "bravo", "carol", "delta", "ember", "frost", "gamma", "hazel")
OPTIONS = ("a", "b", "c", "d", "e")
ADDABLE = ("text", "integer", "decimal", "date", "boolean", "select", "multiselect")
SYSTEM = {"id", "version", "status", "created_at", "created_by", "updated_at", "updated_by"}
SYSTEM |= {"owner_id", "department_id"}
INTEGER_LIMIT = 2**63 - 1
MAX_EDITS = 6
# Texts that look like numbers to some parser or other, but not to an integer field.
NUMBERISH = ("NaN", "-Infinity", "inf", "1e3", "+5", "1_000", "0x1F", "12.0", "12.50", "007")

BAD = object()  # a value that does not fit the changed field
Doc = dict[str, Any]

_apps = itertools.count(1)


# ----------------------------------------------------------- the model


def text_limit(f: Doc) -> int:
    return f.get("max_length", 255)


def decimal_shape(f: Doc) -> tuple[int, int]:
    return f.get("precision", 18), f.get("scale", 2)


def options_of(f: Doc) -> list[str]:
    return [o["value"] for o in f.get("options", [])]


def as_decimal(value: Any, precision: int, scale: int) -> Any:
    """The decimal field's JSON value for `value`, or BAD if it cannot hold it exactly."""
    number = Decimal(str(value))
    exact = number.quantize(Decimal(1).scaleb(-scale))
    if exact != number or abs(exact) >= Decimal(10) ** (precision - scale):
        return BAD
    return str(exact)


def converted(old: Doc, new: Doc, value: Any) -> Any:
    """What a value of field `old` must become in field `new` (BAD: it does not fit).

    Written from the rules, not from the code: a conversion is exact or it is refused.
    """
    if value is None:
        return None
    before, after = old["type"], new["type"]
    if after == "text":
        text = {"boolean": lambda v: "true" if v else "false"}.get(before, str)(value)
        return text if len(text) <= text_limit(new) else BAD
    if before == "text" and after == "integer":
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            return BAD
        number = Decimal(value)
        if number != number.to_integral_value() or abs(number) > INTEGER_LIMIT:
            return BAD
        return int(number)
    if before in ("integer", "decimal") and after == "decimal":
        return as_decimal(value, *decimal_shape(new))
    if before == after == "select":
        return value if value in options_of(new) else BAD
    if before == after == "multiselect":
        return value if set(value) <= set(options_of(new)) else BAD
    assert before == after, (before, after)
    return value


def emptied(old: Doc, new: Doc, value: Any) -> Any:
    """What `set_empty` leaves of a value that did not fit: a multiselect keeps its other options."""
    if old["type"] == new["type"] == "multiselect":
        return [v for v in options_of(new) if v in value] or None
    return None


def retypes(f: Doc) -> list[Callable[[st.DataObject], Doc]]:
    """Changes of type or shape offered for field `f`; each draws the new field."""
    base = {"id": f["id"], "key": f["key"], "label": f["label"]}
    kind = f["type"]
    out: list[Callable[[st.DataObject], Doc]] = []

    def to_text(data: st.DataObject) -> Doc:
        limit = data.draw(st.sampled_from([None, 3, 12, 40]), label="max_length")
        return {**base, "type": "text", **({"max_length": limit} if limit else {})}

    if kind == "text":
        limit = text_limit(f)
        out.append(lambda data: {**base, "type": "integer"})
        out.append(
            lambda data: {
                **f,
                "max_length": data.draw(st.integers(limit + 1, limit + 300), label="longer"),
            }
        )
        if limit > 1:
            out.append(
                lambda data: {
                    **f,
                    "max_length": data.draw(st.integers(1, limit - 1), label="shorter"),
                }
            )
    if kind in ("integer", "boolean", "date"):
        out.append(to_text)
    if kind == "integer":

        def to_decimal(data: st.DataObject) -> Doc:
            precision = data.draw(st.integers(1, 18), label="precision")
            scale = data.draw(st.integers(0, min(4, precision)), label="scale")
            return {**base, "type": "decimal", "precision": precision, "scale": scale}

        out.append(to_decimal)
    if kind == "decimal":
        precision, scale = decimal_shape(f)
        if scale < 6:

            def finer(data: st.DataObject) -> Doc:
                more = data.draw(st.integers(scale + 1, 6), label="scale")
                wider = data.draw(st.integers(max(precision, more), 18), label="precision")
                return {**f, "precision": wider, "scale": more}

            out.append(finer)
    if kind in ("select", "multiselect"):
        have = options_of(f)
        if missing := [o for o in OPTIONS if o not in have]:

            def more_options(data: st.DataObject) -> Doc:
                added = data.draw(st.lists(st.sampled_from(missing), min_size=1, unique=True))
                return {**f, "options": f["options"] + [option(v) for v in added]}

            out.append(more_options)
        if len(have) > 1:

            def fewer_options(data: st.DataObject) -> Doc:
                kept = data.draw(st.lists(st.sampled_from(have), min_size=1, max_size=len(have) - 1, unique=True))
                return {**f, "options": [o for o in f["options"] if o["value"] in kept]}

            out.append(fewer_options)
    return out


def option(value: str) -> dict[str, str]:
    return {"value": value, "label": value.upper()}


def new_field(data: st.DataObject, fid: str, key: str) -> Doc:
    kind = data.draw(st.sampled_from(ADDABLE), label="type")
    f: Doc = {"id": fid, "key": key, "type": kind, "label": key.title()}
    if kind == "text":
        limit = data.draw(st.sampled_from([None, 8, 30, 100]), label="max_length")
        f |= {"max_length": limit} if limit else {}
    elif kind == "decimal":
        precision = data.draw(st.integers(1, 18), label="precision")
        f |= {"precision": precision, "scale": data.draw(st.integers(0, min(4, precision)))}
    elif kind in ("select", "multiselect"):
        chosen = data.draw(st.lists(st.sampled_from(OPTIONS), min_size=1, unique=True))
        f["options"] = [option(v) for v in chosen]
    return f


# ------------------------------------------------------ random values


TEXT = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(NUMBERISH),
    st.text(alphabet="abz XY09-.é中", min_size=1, max_size=60),
)


def values_for(f: Doc) -> st.SearchStrategy[tuple[Any, Any]]:
    """(what to send, what must read back) for a valid value of field `f`."""
    kind = f["type"]
    if kind == "text":
        return TEXT.map(lambda s: (s, s.strip() or None)).filter(lambda p: p[1] is None or len(p[1]) <= text_limit(f))
    if kind == "integer":
        number = st.one_of(st.integers(-999, 999), st.integers(-INTEGER_LIMIT, INTEGER_LIMIT))
        return number.map(lambda n: (n, n))
    if kind == "decimal":
        precision, scale = decimal_shape(f)
        top = 10**precision - 1
        units = st.one_of(st.integers(-min(top, 9999), min(top, 9999)), st.integers(-top, top))
        return units.map(lambda u: Decimal(u).scaleb(-scale)).map(lambda d: (str(d), as_decimal(d, precision, scale)))
    if kind == "date":
        return st.dates().map(lambda d: (d.isoformat(), d.isoformat()))
    if kind == "boolean":
        return st.booleans().map(lambda b: (b, b))
    if kind == "select":
        return st.sampled_from(options_of(f)).map(lambda v: (v, v))
    assert kind == "multiselect"
    allowed = options_of(f)
    return st.lists(st.sampled_from(allowed), unique=True).map(lambda vs: (vs, [v for v in allowed if v in vs] or None))


# ------------------------------------------------------ the machine


@dataclass
class Draft:
    """A form being edited: its fields, and which fields came back from the archive."""

    fields: list[Doc]
    restored: set[str] = field(default_factory=set)
    retyped: set[str] = field(default_factory=set)

    def keys(self) -> set[str]:
        return {f["key"] for f in self.fields}


class SchemaEvolution(RuleBasedStateMachine):
    client: TestClient  # set per test function

    def __init__(self) -> None:
        super().__init__()
        self.app = f"prop{next(_apps)}"
        self.design = f"/api/design/apps/{self.app}/forms/{FORM}"
        self.records = f"/api/apps/{self.app}/forms/{FORM}/records"
        self.fields: list[Doc] = []  # the published fields
        self.archived: dict[str, Doc] = {}  # field id -> the field as it was archived
        self.values: dict[int, dict[str, Any]] = {}  # record id -> field id -> JSON value
        self.version = 0
        self.edits = 0
        self.ids = itertools.count(1)

    # -------------------------------------------------------- setup

    @initialize(data=st.data())
    def publish_first_version(self, data: st.DataObject) -> None:
        keys = data.draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
        fields = [new_field(data, self.fresh_id(), key) for key in keys]
        response = self.client.put(f"/api/design/apps/{self.app}", json={"label": self.app})
        assert response.status_code == 200, response.text
        self.save(fields)
        published = self.client.post(f"{self.design}/publish")
        assert published.status_code == 200, published.text
        self.fields, self.version = fields, 1

    def fresh_id(self) -> str:
        return f"fld_{next(self.ids)}"

    # ------------------------------------------------------ records

    def draw_values(self, data: st.DataObject, fields: list[Doc]) -> tuple[dict, dict]:
        chosen = data.draw(st.lists(st.sampled_from(fields), unique_by=lambda f: f["id"]))
        sent, expected = {}, {}
        for f in chosen:
            pair = data.draw(st.one_of(st.just((None, None)), values_for(f)), label=f["key"])
            sent[f["key"]], expected[f["id"]] = pair
        return sent, expected

    @rule(data=st.data())
    def create_record(self, data: st.DataObject) -> None:
        sent, expected = self.draw_values(data, self.fields)
        response = self.client.post(self.records, json=sent)
        assert response.status_code == 201, (sent, response.text)
        self.values[response.json()["id"]] = expected
        self.assert_record(response.json())

    @precondition(lambda self: self.values)
    @rule(data=st.data())
    def patch_record(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.values)), label="record")
        sent, expected = self.draw_values(data, self.fields)
        response = self.client.patch(f"{self.records}/{rid}", json=sent)
        assert response.status_code == 200, (sent, response.text)
        self.values[rid] |= expected
        self.assert_record(response.json())

    # -------------------------------------------------------- edits

    def add(self, data: st.DataObject, draft: Draft) -> None:
        free = [k for k in KEYS if k not in draft.keys()]
        if free:
            draft.fields.append(new_field(data, self.fresh_id(), data.draw(st.sampled_from(free))))

    def rename(self, data: st.DataObject, draft: Draft) -> None:
        free = [k for k in KEYS if k not in draft.keys()]
        if free:
            i = data.draw(st.integers(0, len(draft.fields) - 1), label="renamed")
            key = data.draw(st.sampled_from(free), label="new key")
            draft.fields[i] = {**draft.fields[i], "key": key, "label": key.title()}

    def remove(self, data: st.DataObject, draft: Draft) -> None:
        if len(draft.fields) > 1:
            del draft.fields[data.draw(st.integers(0, len(draft.fields) - 1), label="removed")]

    def restore(self, data: st.DataObject, draft: Draft) -> None:
        view = self.client.get(self.design).json()
        archived = {f["id"]: f for f in view["archived_fields"]}
        assert archived == self.archived
        candidates = [fid for fid in sorted(archived) if fid not in draft.restored]
        if not candidates:
            return
        f = dict(archived[data.draw(st.sampled_from(candidates), label="restored")])
        free = [k for k in KEYS if k not in draft.keys()]
        if f["key"] in draft.keys() or (free and data.draw(st.booleans(), label="new key")):
            if not free:
                return
            f["key"] = data.draw(st.sampled_from(free), label="restored key")
        draft.fields.append(f)
        draft.restored.add(f["id"])

    def retype(self, data: st.DataObject, draft: Draft) -> None:
        offers = [
            (i, change) for i, f in enumerate(draft.fields) if f["id"] not in draft.retyped for change in retypes(f)
        ]
        if offers:
            i, change = data.draw(st.sampled_from(offers), label="retype")
            draft.fields[i] = change(data)
            draft.retyped.add(draft.fields[i]["id"])

    EDITS = ("add", "rename", "remove", "restore", "retype")

    @precondition(lambda self: self.edits < MAX_EDITS)
    @rule(data=st.data())
    def edit_and_publish(self, data: st.DataObject) -> None:
        self.edits += 1
        draft = Draft([dict(f) for f in self.fields])
        for name in data.draw(st.lists(st.sampled_from(self.EDITS), min_size=1, max_size=2)):
            getattr(self, name)(data, draft)
        self.save(draft.fields)
        bad = self.bad_values(draft)
        if data.draw(st.booleans(), label="dry run first"):
            self.dry_run(draft, bad)
        if bad and data.draw(st.booleans(), label="refuse"):
            self.publish_refused(draft, bad)
            return
        lossy = {self.key_of(draft, fid) for fid in bad}
        extra = data.draw(st.sets(st.sampled_from(sorted(draft.keys()))), label="extra resolutions")
        self.publish(draft, bad, lossy | extra)

    # ------------------------------------------------------ publish

    def save(self, fields: list[Doc]) -> None:
        document = {"key": FORM, "label": "Item", "fields": fields}
        response = self.client.put(self.design, json=document)
        assert response.status_code == 200, response.text
        assert response.json()["problems"] == [], response.json()["problems"]

    def stored_field(self, fid: str) -> Doc | None:
        published = {f["id"]: f for f in self.fields}
        return published.get(fid) or self.archived.get(fid)

    def bad_values(self, draft: Draft) -> dict[str, list[int]]:
        """Field id -> ids of the records whose value would not fit the draft's field."""
        bad: dict[str, list[int]] = {}
        for f in draft.fields:
            before = self.stored_field(f["id"])
            if before is None:
                continue
            ids = [
                rid for rid, values in sorted(self.values.items()) if converted(before, f, values.get(f["id"])) is BAD
            ]
            if ids:
                bad[f["id"]] = ids
        return bad

    @staticmethod
    def key_of(draft: Draft, fid: str) -> str:
        return next(f["key"] for f in draft.fields if f["id"] == fid)

    def assert_blockers(self, plan: dict[str, Any], draft: Draft, bad: dict[str, list[int]]):
        blockers = {b["field"]: b for b in plan["blockers"]}
        expected = {self.key_of(draft, fid): ids for fid, ids in bad.items()}
        assert set(blockers) == set(expected), (plan["blockers"], expected)
        for key, ids in expected.items():
            assert [r["id"] for r in blockers[key]["records"]] == ids[:20], (key, blockers[key])
            assert blockers[key]["count"] == len(ids)

    def dry_run(self, draft: Draft, bad: dict[str, list[int]]) -> None:
        response = self.client.post(f"{self.design}/publish?dry_run=true")
        assert response.status_code == 200, response.text
        plan = response.json()["plan"]
        assert plan["can_apply"] is (not bad), plan
        self.assert_blockers(plan, draft, bad)
        self.assert_unchanged()

    def publish_refused(self, draft: Draft, bad: dict[str, list[int]]) -> None:
        response = self.client.post(f"{self.design}/publish")
        assert response.status_code == 409, response.text
        self.assert_blockers(response.json()["plan"], draft, bad)
        self.assert_unchanged()

    def publish(self, draft: Draft, bad: dict[str, list[int]], set_empty: set[str]) -> None:
        body = {"resolutions": {key: {"on_invalid": "set_empty"} for key in sorted(set_empty)}}
        response = self.client.post(f"{self.design}/publish", json=body)
        assert response.status_code == 200, (body, response.text)
        changed = draft.fields != self.fields
        self.version += changed
        assert response.json()["version"] == self.version, response.json()
        assert response.json()["applied"] is changed
        for _rid, values in self.values.items():
            for f in draft.fields:
                before = self.stored_field(f["id"])
                if before is None:
                    continue
                value = values.get(f["id"])
                after = converted(before, f, value)
                values[f["id"]] = emptied(before, f, value) if after is BAD else after
        kept = {f["id"] for f in draft.fields}
        for f in self.fields:
            if f["id"] not in kept:
                self.archived[f["id"]] = f
        for fid in kept:
            self.archived.pop(fid, None)
        self.fields = draft.fields

    # ---------------------------------------------------- checks

    def assert_record(self, record: dict[str, Any]) -> None:
        expected = self.values[record["id"]]
        visible = {f["key"]: expected.get(f["id"]) for f in self.fields}
        assert {k: v for k, v in record.items() if k not in SYSTEM} == visible, record

    def assert_unchanged(self) -> None:
        view = self.client.get(self.design).json()
        assert view["published_version"] == self.version
        published = self.client.get(f"{self.design}/versions/{self.version}").json()
        assert published["document"]["fields"] == self.fields
        versions = self.client.get(f"{self.design}/versions").json()["items"]
        assert [v["version"] for v in versions] == list(range(self.version, 0, -1))
        self.every_record_reads_back()

    @invariant()
    def every_record_reads_back(self) -> None:
        for rid in sorted(self.values):
            response = self.client.get(f"{self.records}/{rid}")
            assert response.status_code == 200, response.text
            self.assert_record(response.json())


def test_random_form_edits_keep_every_value(client: TestClient) -> None:
    """`client` (tests/conftest.py): a fresh database of each kind, logged in as an admin."""
    SchemaEvolution.client = client
    run_state_machine_as_test(
        SchemaEvolution,
        settings=settings(
            max_examples=15,
            stateful_step_count=14,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
