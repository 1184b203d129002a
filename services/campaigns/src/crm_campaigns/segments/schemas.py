from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_campaigns.segments.rules import Group
from crm_shared.validation import StrictModel

RULES_EXAMPLE: dict[str, Any] = {
    "op": "and",
    "rules": [
        {"field": "lifecycle_stage", "operator": "eq", "value": "customer"},
        {
            "op": "or",
            "rules": [
                {"field": "tags", "operator": "has", "value": "vip"},
                {"field": "value_tier", "operator": "in", "value": ["key", "standard"]},
            ],
        },
    ],
}


class SegmentCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["dynamic", "static"]
    rules: Group | None = Field(default=None, description="Required for dynamic segments")

    @model_validator(mode="after")
    def _rules_match_kind(self) -> SegmentCreate:
        if self.kind == "dynamic" and self.rules is None:
            raise ValueError("a dynamic segment needs rules")
        if self.kind == "static" and self.rules is not None:
            raise ValueError("a static list has members, not rules")
        return self


class SegmentUpdate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    rules: Group | None = None


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    rules: dict[str, Any] | None
    version: int
    created_at: datetime
    updated_at: datetime


class PreviewRequest(StrictModel):
    rules: Group
    sample_size: Annotated[int, Field(ge=0, le=100)] = 10


class PersonSample(BaseModel):
    contact_id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    lifecycle_stage: str | None
    country: str | None
    tags: list[str]
    value_tier: str | None


class Preview(BaseModel):
    count: int
    sample: list[PersonSample]


class ListMembers(StrictModel):
    contact_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10_000)]


class ListChange(BaseModel):
    added: int
