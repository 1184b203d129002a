from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.validation import StrictModel

CallbackKind = Literal["delivered", "opened", "clicked", "bounced", "responded", "unsubscribed"]


class TouchCreate(StrictModel):
    provider_event_id: Annotated[
        str, Field(min_length=1, max_length=200, description="The provider's id for this event")
    ]
    campaign_id: uuid.UUID
    contact_id: uuid.UUID
    kind: CallbackKind
    occurred_at: datetime | None = Field(default=None, description="Defaults to now")
    url: Annotated[str, Field(max_length=2000)] | None = None


class TouchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider_event_id: str
    campaign_id: uuid.UUID
    contact_id: uuid.UUID
    kind: str
    channel: str
    occurred_at: datetime
    url: str | None
    recorded_at: datetime


class TouchBatch(StrictModel):
    touches: Annotated[list[TouchCreate], Field(min_length=1, max_length=500)]


class BatchResult(BaseModel):
    recorded: int = Field(description="New touches")
    duplicates: int = Field(description="Callbacks already recorded (nothing changed)")
