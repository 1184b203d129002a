from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel


class Period(BaseModel):
    start: date
    end: date


class RateMeasure(BaseModel):
    """A rate W = numerator / denominator x 100% (null when the denominator is 0)."""

    period: Period
    formula: str
    numerator: int
    denominator: int
    rate: float | None


class Retention(RateMeasure):
    previous_period: Period


class LoyaltyIndexes(BaseModel):
    period: Period
    formula: str
    surveyed: int
    unconditional: int
    conditional: int
    standard_index: float | None
    strengthened_index: float | None


class Nps(BaseModel):
    period: Period
    formula: str
    respondents: int
    promoters: int
    detractors: int
    nps: float | None


class RfmCustomer(BaseModel):
    contact_id: str
    recency_days: float
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    segment: str
    value_tier: str


class SegmentRule(BaseModel):
    segment: str
    rule: str


class Rfm(BaseModel):
    as_of: datetime
    formula: str
    segment_rules: list[SegmentRule]
    value_tier_rule: str
    segments: dict[str, int]
    value_tiers: dict[str, int]
    customers: list[RfmCustomer]


class ParetoConcentration(BaseModel):
    period: Period
    formula: str
    customers: int
    top_customers: int
    top_revenue: Decimal
    total_revenue: Decimal
    share: float | None


class LoyaltyTypology(BaseModel):
    as_of: datetime
    formula: str
    customers: dict[str, int]


class StageTotal(BaseModel):
    stage_id: str | None
    count: int
    amount: Decimal


class Sales(BaseModel):
    period: Period
    formula: str
    won: int
    lost: int
    hit_rate: float | None
    time_to_close_days_mean: float | None
    time_to_close_days_median: float | None
    average_won_amount: Decimal | None
    open_opportunities: int
    pipeline_velocity_per_day: Decimal | None
    pipeline_by_stage: list[StageTotal]
    repeat_sales: int
    cross_sales: int


class Service(BaseModel):
    period: Period
    formula: str
    tickets_solved: int
    first_response_seconds_mean: float | None
    first_response_seconds_median: float | None
    resolution_seconds_mean: float | None
    resolution_seconds_median: float | None
    sla_compliance: float | None
    csat_responses: int
    csat: float | None
    csat_mean: float | None


class ClvFit(BaseModel):
    as_of: datetime
    formula: str
    customers: int
    historic_clv_total: Decimal
    bgnbd: dict[str, float] | None
    gamma_gamma: dict[str, float] | None
    predicted_clv_total: float | None


class Recomputed(BaseModel):
    as_of: datetime
    customers: int
    segment_changes: int
    risk_changes: int


class CampaignResult(BaseModel):
    campaign_id: str
    name: str | None
    reached: int
    responders: int
    response_rate: float | None
    converted: int
    conversion_rate: float | None
    cost: Decimal | None
    cost_per_response: Decimal | None
    revenue_first_touch: Decimal
    revenue_last_touch: Decimal
    revenue_linear: Decimal
    roi: float | None


class CampaignEffectiveness(BaseModel):
    period: Period
    formula: str
    window_days: int
    revenue: Decimal
    unattributed_revenue: Decimal
    campaigns: list[CampaignResult]
