from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.events.catalog import ConsentChannel, ConsentPurpose
from crm_shared.validation import StrictModel

ConsentStatus = Literal["granted", "withdrawn"]


class ConsentCreate(StrictModel):
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    source: Annotated[str, Field(min_length=1, max_length=100)]
    evidence: Annotated[str, Field(max_length=2000)] | None = None
    captured_at: datetime | None = Field(
        default=None, description="When the customer said so; defaults to now"
    )


class ConsentEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    source: str
    evidence: str | None
    captured_at: datetime
    recorded_at: datetime
    recorded_by: str | None


class CurrentConsent(BaseModel):
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    captured_at: datetime
    source: str


class ConsentOverview(BaseModel):
    current: list[CurrentConsent]
    ledger: list[ConsentEntryRead]
