"""department: a department of the organisation, stored as its id."""

from __future__ import annotations

from typing import ClassVar

from opsloom.runtime.fields.base import FORMULA_NUMBER, FieldSpec, Schema
from opsloom.runtime.fields.relation import Relation


class Department(Relation):
    name = "department"
    label = {"en": "Department", "zh-CN": "部门"}
    operators = frozenset({"eq", "ne", "in", "not_in"})
    link = "department"
    groupable = True
    title_search = False
    formula = FORMULA_NUMBER
    expanded = "NamedLink"
    lossless_to = frozenset({"department"})
    properties: ClassVar[Schema] = {}
    starts_with: ClassVar[Schema] = {}

    def target_name(self, spec: FieldSpec) -> str:
        return "a department"

    def target(self, spec: FieldSpec) -> str:
        return "department"
