from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.validation import StrictModel

Outcome = Literal["reached", "no_answer", "call_back", "not_interested", "interested"]


class CallListCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    agent_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(min_length=1, max_length=200),
    ]


class CallListRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    campaign_id: uuid.UUID
    name: str
    agent_ids: list[str]
    created_at: datetime
    entries: int = 0
    excluded: dict[str, int] = Field(default_factory=dict)


class CallEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contact_id: uuid.UUID
    position: int
    priority: int
    value_tier: str | None
    agent_id: str
    outcome: Outcome | None
    callback_at: datetime | None
    notes: str | None
    attempts: int
    lead_id: str | None


class OutcomeBody(StrictModel):
    outcome: Outcome
    callback_at: datetime | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None

    @model_validator(mode="after")
    def _callback(self) -> OutcomeBody:
        if self.outcome == "call_back" and self.callback_at is None:
            raise ValueError("call_back needs callback_at")
        return self
