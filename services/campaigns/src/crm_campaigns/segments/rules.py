"""The segment rule tree and its compilation to SQL over the projection.

A tree is groups (`and` / `or`) of conditions (`field`, `operator`, `value`). Fields and
operators come from whitelists, values are type-checked, and compilation produces SQLAlchemy
expressions whose values are bound parameters: no text from a request ever reaches the SQL.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, and_, false, not_, or_, true
from sqlalchemy.dialects.postgresql import array

from crm_campaigns.projection.models import ProjectedPerson
from crm_shared.validation import StrictModel

P = ProjectedPerson.__table__.c
MAX_DEPTH = 5
STRING_FIELDS = {
    "first_name": P.first_name,
    "last_name": P.last_name,
    "email": P.email,
    "language": P.language,
    "country": P.country,
    "lifecycle_stage": P.lifecycle_stage,
    "source": P.source,
    "job_title": P.job_title,
    "owner_id": P.owner_id,
    "relationship_level": P.relationship_level,
    "preferred_channel": P.preferred_channel,
    "rfm_segment": P.rfm_segment,
    "value_tier": P.value_tier,
}
ARRAY_FIELDS = {"tags": P.tags, "company_ids": P.company_ids}
BOOL_FIELDS = {"do_not_contact": P.do_not_contact}
ATTRIBUTE = re.compile(r"^attributes\.([A-Za-z0-9_\-]{1,64})$")

STRING_OPS = {"eq", "neq", "in", "not_in", "contains", "starts_with", "is_null", "is_not_null"}
ARRAY_OPS = {"has", "has_any", "has_all", "has_none", "is_empty"}
BOOL_OPS = {"eq"}
ATTRIBUTE_OPS = {"eq", "neq", "in", "not_in", "is_null", "is_not_null"}
Operator = Literal[
    "eq",
    "neq",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "is_null",
    "is_not_null",
    "has",
    "has_any",
    "has_all",
    "has_none",
    "is_empty",
]
Scalar = Annotated[str, Field(max_length=200)] | bool | int | float
NO_VALUE = {"is_null", "is_not_null", "is_empty"}
LIST_VALUE = {"in", "not_in", "has_any", "has_all", "has_none"}


def _ops_for(field: str) -> set[str] | None:
    if field in STRING_FIELDS:
        return STRING_OPS
    if field in ARRAY_FIELDS:
        return ARRAY_OPS
    if field in BOOL_FIELDS:
        return BOOL_OPS
    if ATTRIBUTE.match(field):
        return ATTRIBUTE_OPS
    return None


class Condition(StrictModel):
    field: Annotated[str, Field(max_length=80, examples=["lifecycle_stage", "attributes.plan"])]
    operator: Operator
    value: Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=500)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Condition:
        ops = _ops_for(self.field)
        if ops is None:
            raise ValueError(f"unknown field {self.field!r}")
        if self.operator not in ops:
            raise ValueError(f"operator {self.operator!r} does not apply to {self.field!r}")
        if self.operator in NO_VALUE:
            if self.value is not None:
                raise ValueError(f"operator {self.operator!r} takes no value")
        elif self.operator in LIST_VALUE:
            if not isinstance(self.value, list):
                raise ValueError(f"operator {self.operator!r} takes a list of values")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"operator {self.operator!r} takes a single value")
        if self.field in BOOL_FIELDS and not isinstance(self.value, bool):
            raise ValueError(f"{self.field!r} takes true or false")
        return self


class Group(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "op": "and",
                    "rules": [
                        {"field": "country", "operator": "eq", "value": "PL"},
                        {"field": "tags", "operator": "has", "value": "vip"},
                    ],
                }
            ]
        }
    )

    op: Literal["and", "or"]
    rules: Annotated[list[Condition | Group], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _depth(self) -> Group:
        if depth(self) > MAX_DEPTH:
            raise ValueError(f"rule trees are limited to {MAX_DEPTH} levels")
        return self


def depth(node: Condition | Group) -> int:
    if isinstance(node, Condition):
        return 0
    return 1 + max(depth(child) for child in node.rules)


def _texts(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values]


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _condition(c: Condition) -> ColumnElement[bool]:
    op, value = c.operator, c.value
    if c.field in BOOL_FIELDS:
        return BOOL_FIELDS[c.field] == bool(value)
    if c.field in ARRAY_FIELDS:
        column = ARRAY_FIELDS[c.field]
        if op == "is_empty":
            return column == array([], type_=column.type.item_type)  # type: ignore[attr-defined]
        items = array(_texts(value), type_=column.type.item_type)  # type: ignore[attr-defined]
        overlap: ColumnElement[bool] = column.overlap(items)
        if op in ("has", "has_all"):
            contains: ColumnElement[bool] = column.contains(items)
            return contains
        return overlap if op == "has_any" else not_(overlap)  # has_none
    match = ATTRIBUTE.match(c.field)
    column = P.attributes[match.group(1)].astext if match else STRING_FIELDS[c.field]
    if op == "is_null":
        return column.is_(None)
    if op == "is_not_null":
        return column.is_not(None)
    if op == "eq":
        return column == str(value)
    if op == "neq":
        return or_(column.is_(None), column != str(value))
    if op == "in":
        return column.in_(_texts(value))
    if op == "not_in":
        return or_(column.is_(None), column.not_in(_texts(value)))
    if op == "contains":
        return column.ilike(f"%{_like_escape(str(value))}%", escape="\\")
    return column.ilike(f"{_like_escape(str(value))}%", escape="\\")  # starts_with


def compile_rules(node: Condition | Group) -> ColumnElement[bool]:
    if isinstance(node, Condition):
        return _condition(node)
    parts = [compile_rules(child) for child in node.rules]
    if not parts:
        return true() if node.op == "and" else false()
    combined: ColumnElement[bool] = and_(*parts) if node.op == "and" else or_(*parts)
    return combined
