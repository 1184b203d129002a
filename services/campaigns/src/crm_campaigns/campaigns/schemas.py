from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_shared.validation import StrictModel

CampaignChannel = Literal["email", "sms", "phone", "social", "event", "web", "direct_mail"]
CampaignStatus = Literal["draft", "scheduled", "running", "completed", "cancelled"]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class _CampaignFields(StrictModel):
    goal: Annotated[str, Field(max_length=2000)] | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    budget: Money | None = None
    actual_cost: Money | None = None
    currency: Currency | None = None
    subject: Annotated[str, Field(max_length=200)] | None = None
    body: Annotated[str, Field(max_length=100_000)] | None = None
    segment_ids: Annotated[list[uuid.UUID], Field(max_length=50)] | None = None
    exclude_segment_ids: Annotated[list[uuid.UUID], Field(max_length=50)] | None = None
    honour_preferred_channel: bool | None = None

    @model_validator(mode="after")
    def _dates(self) -> _CampaignFields:
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise ValueError("planned_end is before planned_start")
        return self


class CampaignCreate(_CampaignFields):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    channel: CampaignChannel


class CampaignUpdate(_CampaignFields):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    channel: CampaignChannel | None = None


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    channel: CampaignChannel
    status: CampaignStatus
    goal: str | None
    owner_id: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    budget: Decimal | None
    actual_cost: Decimal | None
    currency: str | None
    subject: str | None
    segment_ids: list[uuid.UUID]
    exclude_segment_ids: list[uuid.UUID]
    honour_preferred_channel: bool
    audience_report: dict[str, Any] | None
    audience_built_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class Transition(StrictModel):
    status: CampaignStatus


class AudienceReport(BaseModel):
    candidates: int = Field(description="People matched by the campaign's segments")
    members: int = Field(description="People stored as campaign members")
    excluded: dict[str, int] = Field(
        description="Excluded people by reason: excluded_segment, do_not_contact, no_consent, "
        "no_address, preferred_channel, frequency_cap"
    )


class ContactPolicyBody(StrictModel):
    max_touches: Annotated[int, Field(ge=1, le=1000)]
    period_days: Annotated[int, Field(ge=1, le=366)]


class CalendarEntry(BaseModel):
    id: uuid.UUID
    name: str
    channel: str
    status: str
    planned_start: datetime | None
    planned_end: datetime | None
    conflicts_with: list[uuid.UUID]


class CalendarPeriod(BaseModel):
    period_start: date
    campaigns: list[CalendarEntry]


class Calendar(BaseModel):
    group_by: Literal["week", "month"]
    periods: list[CalendarPeriod]


class Effectiveness(BaseModel):
    campaign_id: uuid.UUID | None = Field(description="Set for one campaign")
    channel: str | None = Field(description="Set for a channel's total")
    segment_id: uuid.UUID | None = Field(default=None, description="Set for a segment's part")
    audience: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    responded: int
    bounced: int
    unsubscribed: int
    delivery_rate: float | None
    open_rate: float | None
    click_rate: float | None
    response_rate: float | None
    conversions: int
    conversion_rate: float | None
    revenue_attributed: Decimal
    cost: Decimal | None
    cost_per_response: Decimal | None
    roi: float | None
