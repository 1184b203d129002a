from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_opportunities.money import Amount, Currency, Percent
from crm_shared.validation import StrictModel, UserId

Status = Literal["open", "won", "lost"]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class OpportunityCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    person_id: uuid.UUID
    company_id: uuid.UUID | None = None
    owner_id: UserId | None = Field(None, description="Defaults to the caller")
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID | None = Field(None, description="Defaults to the first stage")
    amount: Amount
    currency: Currency
    probability: Percent | None = Field(None, description="Overrides the stage's default")
    expected_close_date: date | None = None
    source_campaign_id: Annotated[str, Field(max_length=100)] | None = None


class OpportunityUpdate(StrictModel):
    """PATCH: fields present replace the stored value; `probability: null` restores the stage
    default; moving to a won or lost stage closes the deal (`reason` is recorded)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    company_id: uuid.UUID | None = None
    owner_id: UserId | None = None
    stage_id: uuid.UUID | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    probability: Percent | None = None
    expected_close_date: date | None = None
    reason: Reason | None = None


class OpportunityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    person_id: uuid.UUID
    company_id: uuid.UUID | None
    owner_id: str
    team_id: uuid.UUID | None
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    amount: Decimal
    currency: str
    probability: Decimal
    probability_override: Decimal | None
    expected_close_date: date | None
    source_campaign_id: str | None
    lead_id: uuid.UUID | None
    status: Status
    closed_at: datetime | None
    close_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class OpportunityFilters(BaseModel):
    owner_id: str | None = None
    team_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    status: Status | None = None
    person_id: uuid.UUID | None = None


class StageChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage_id: uuid.UUID | None
    to_stage_id: uuid.UUID
    changed_at: datetime
    changed_by: str | None


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
    placed_at: datetime
    total: Decimal
    currency: str
    cancelled_at: datetime | None
