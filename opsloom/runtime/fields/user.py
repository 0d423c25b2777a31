"""user: a person of the organisation, stored as the user's id.

`{"var": "current_user.id"}` filters work; a flow may route to the person it names."""

from __future__ import annotations

from typing import ClassVar

from opsloom.runtime.fields.base import FORMULA_NUMBER, FieldSpec, Schema
from opsloom.runtime.fields.relation import Relation


class User(Relation):
    name = "user"
    label = {"en": "Person", "zh-CN": "成员"}
    operators = frozenset({"eq", "ne", "in", "not_in"})
    link = "user"
    groupable = True
    title_search = False
    formula = FORMULA_NUMBER
    expanded = "NamedLink"
    lossless_to = frozenset({"user", "users"})
    properties: ClassVar[Schema] = {}
    starts_with: ClassVar[Schema] = {}

    def target_name(self, spec: FieldSpec) -> str:
        return "a user"

    def target(self, spec: FieldSpec) -> str:
        return "user"
