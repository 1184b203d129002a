from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.events.catalog import Channel, Direction
from crm_shared.validation import LongText, StrictModel

InteractionKind = Literal[
    "note", "call", "meeting", "email", "message", "visit", "letter", "task", "other"
]


class InteractionCreate(StrictModel):
    channel: Channel
    direction: Direction
    kind: InteractionKind
    occurred_at: datetime | None = Field(default=None, description="defaults to now")
    summary: LongText | None = None
    company_id: uuid.UUID | None = None


class NoteCreate(StrictModel):
    body: Annotated[str, Field(min_length=1, max_length=10_000)]


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    company_id: uuid.UUID | None
    channel: Channel
    direction: Direction
    kind: str
    occurred_at: datetime
    summary: str | None
    actor_id: str | None
    created_at: datetime
