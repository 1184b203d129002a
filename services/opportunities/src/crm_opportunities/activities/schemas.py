from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from crm_shared.validation import StrictModel, UserId

Kind = Literal["task", "call", "meeting"]


class ActivityCreate(StrictModel):
    kind: Kind
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    notes: Annotated[str, Field(max_length=10_000)] | None = None
    due_at: AwareDatetime | None = None
    assignee_id: UserId | None = Field(None, description="Defaults to the caller")
    person_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    direction: Literal["inbound", "outbound"] = "outbound"


class ActivityComplete(StrictModel):
    outcome: Annotated[str, Field(max_length=10_000)] | None = None


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Kind
    subject: str
    notes: str | None
    due_at: datetime | None
    assignee_id: str
    person_id: uuid.UUID | None
    company_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    direction: str
    status: Literal["open", "done"]
    completed_at: datetime | None
    outcome: str | None
    version: int


class ActivityFilters(BaseModel):
    assignee_id: str | None = None
    opportunity_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    status: Literal["open", "done"] | None = None
