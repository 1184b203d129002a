from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel


class Profile(BaseModel):
    first_name: str | None
    last_name: str | None
    primary_email: str | None
    lifecycle_stage: str | None
    owner_id: str | None
    company_ids: list[str]
    erased: bool


class ChannelCount(BaseModel):
    channel: str
    count: int


class Amount(BaseModel):
    currency: str
    amount: Decimal


class OpenOpportunities(BaseModel):
    count: int
    amounts: list[Amount]


class Scores(BaseModel):
    recency_days: float
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    rfm_segment: str
    value_tier: str
    historic_clv: Decimal
    predicted_clv: float | None
    churn_probability: float | None
    computed_at: datetime


class ConsentState(BaseModel):
    channel: str
    purpose: str
    status: str
    captured_at: datetime


class Customer360(BaseModel):
    contact_id: str
    profile: Profile | None
    first_interaction_at: datetime | None
    last_interaction_at: datetime | None
    channels: list[ChannelCount]
    open_tickets: int
    open_opportunities: OpenOpportunities
    lifetime_revenue: list[Amount]
    invoices_paid: list[Amount]
    scores: Scores | None
    loyalty_type: str | None
    consents: list[ConsentState]
