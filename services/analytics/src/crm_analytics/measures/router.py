"""The measures, per tenant and period. Each operation's description states its formula."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crm_analytics.measures import schemas as s
from crm_analytics.measures import service
from crm_analytics.measures.formulas import RFM_SEGMENT_RULES, VALUE_TIER_RULES
from crm_analytics.permissions import Analyst, Reader
from crm_analytics.scores.schedule import mark_computed, requests_now
from crm_analytics.scores.service import recompute_scores
from crm_shared.errors import ValidationFailed
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/measures", tags=["measures"])
scores_router = APIRouter(prefix="/v1/scores", tags=["scores"])


def period_params(
    start: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    end: Annotated[date | None, Query(alias="to", description="day after the last (UTC)")] = None,
) -> tuple[date, date]:
    """The period [from, to); defaults to the last 365 days."""
    start, end = service.default_period(start, end)
    if start >= end:
        raise ValidationFailed(
            "`from` must be before `to`.",
            errors=[{"pointer": "/from", "in": "query", "detail": "empty period"}],
        )
    return start, end


def as_of_param(
    as_of: Annotated[datetime | None, Query(description="point in time (default now)")] = None,
) -> datetime:
    if as_of is None:
        return datetime.now(UTC)
    if as_of.tzinfo is None:
        raise ValidationFailed(
            "`as_of` needs a UTC offset.",
            errors=[{"pointer": "/as_of", "in": "query", "detail": "timezone required"}],
        )
    return as_of


PeriodQ = Annotated[tuple[date, date], Depends(period_params)]
Segment = Annotated[
    str | None,
    Query(
        max_length=32,
        description="only customers whose last computed RFM segment or value tier is this "
        "(e.g. champions, at_risk, key)",
    ),
]
AsOf = Annotated[datetime, Depends(as_of_param)]


@router.get(
    "/retention",
    response_model=s.Retention,
    summary="Retention rate",
    description="W = Kt / K(t-1) x 100%. K(t-1): customers who bought (a non-cancelled ERP order) "
    "in the previous period, the same number of days just before `from`; Kt: those of them who "
    "bought again in the period [from, to).",
)
async def retention(p: PeriodQ, uow: UoW, _: Reader, segment: Segment = None) -> s.Retention:
    async with uow:
        return await service.retention(uow, *p, segment)


@router.get(
    "/churn/static",
    response_model=s.RateMeasure,
    summary="Static churn rate",
    description="W = Kz / K x 100%. Kz: customers who left in the period (an ERP contract ended "
    "without renewal, `contract.ended` with renewed=false, dated in [from, to)); K: all "
    "customers known by the end of the period (anyone with an order or a contract before `to`).",
)
async def static_churn(p: PeriodQ, uow: UoW, _: Reader, segment: Segment = None) -> s.RateMeasure:
    async with uow:
        return await service.static_churn(uow, *p, segment)


@router.get(
    "/churn/dynamic",
    response_model=s.RateMeasure,
    summary="Dynamic churn rate",
    description="W = Kz / Ku x 100%. Ku: customers with a contract term ending in [from, to) "
    "(`contract.renewed`, dated by the new term's start, or `contract.ended`); Kz: those of them "
    "who did not renew (`contract.ended` with renewed=false).",
)
async def dynamic_churn(p: PeriodQ, uow: UoW, _: Reader, segment: Segment = None) -> s.RateMeasure:
    async with uow:
        return await service.dynamic_churn(uow, *p, segment)


@router.get(
    "/loyalty",
    response_model=s.LoyaltyIndexes,
    summary="Standard and strengthened loyalty indexes",
    description="From `survey.answered` in [from, to), each respondent's latest answer with a "
    "repurchase intent. WLK = (Kb + Kw) / K x 100%, WWLK = Kb / K x 100%: Kb unconditional "
    "will to buy again, Kw conditional, K customers surveyed.",
)
async def loyalty(p: PeriodQ, uow: UoW, _: Reader, segment: Segment = None) -> s.LoyaltyIndexes:
    async with uow:
        return await service.loyalty(uow, *p, segment)


@router.get(
    "/nps",
    response_model=s.Nps,
    summary="Net Promoter Score",
    description="NPS = % promoters - % detractors over the respondents of [from, to) (each "
    "respondent's latest `nps_score`): promoters score 9-10, detractors 0-6. Ranges -100..100.",
)
async def nps(p: PeriodQ, uow: UoW, _: Reader, segment: Segment = None) -> s.Nps:
    async with uow:
        return await service.nps(uow, *p, segment)


RFM_DESCRIPTION = (
    "Over customers with non-cancelled orders up to `as_of`: R = days since the last order, "
    "F = number of orders, M = revenue. Each is scored 1-5 by quintile of rank: score = 1 + "
    "floor(5 x w / n), w = customers strictly worse (longer ago; fewer orders; less revenue), "
    "n = customers; ties share a score. Segments, first matching rule: "
    + "; ".join(f"{name}: {rule}" for name, rule in RFM_SEGMENT_RULES)
    + f". Value tiers: {VALUE_TIER_RULES}."
)


@router.get(
    "/rfm", response_model=s.Rfm, summary="RFM scores and segments", description=RFM_DESCRIPTION
)
async def rfm(
    as_of: AsOf,
    uow: UoW,
    _: Reader,
    limit: Annotated[int, Query(ge=0, le=1000, description="customers listed")] = 100,
) -> s.Rfm:
    async with uow:
        return await service.rfm(uow, as_of, limit)


@router.get(
    "/pareto",
    response_model=s.ParetoConcentration,
    summary="Pareto concentration",
    description="Share of revenue from the top 20% of customers: customers with revenue (non-"
    "cancelled orders placed in [from, to)) sorted by revenue, the top ceil(0.2 x n) of them; "
    "share = their revenue / total revenue x 100%.",
)
async def pareto(p: PeriodQ, uow: UoW, _: Reader, segment: Segment = None) -> s.ParetoConcentration:
    async with uow:
        return await service.pareto(uow, *p, segment)


@router.get(
    "/loyalty-typology",
    response_model=s.LoyaltyTypology,
    summary="Loyalty typology (Jones and Sasser)",
    description="Customers with a satisfaction rating up to `as_of` (CSAT 1-5 and survey "
    "satisfaction 1-5, averaged): satisfied when the mean is >= 4; loyal when they placed 2 or "
    "more non-cancelled orders. Loyalists (apostles): satisfied and loyal; mercenaries: "
    "satisfied, not loyal; hostages: loyal, not satisfied; defectors: neither.",
)
async def loyalty_typology(as_of: AsOf, uow: UoW, _: Reader) -> s.LoyaltyTypology:
    async with uow:
        return await service.loyalty_typology(uow, as_of)


@router.get(
    "/sales",
    response_model=s.Sales,
    summary="Sales: hit rate, time to close, pipeline, velocity, repeat and cross-sales",
    description="Hit rate = won / (won + lost) x 100% over opportunities closed in [from, to). "
    "Time to close = won_at - created, in days, over deals won in the period (mean and median). "
    "Pipeline by stage: open deals now, count and amount per stage. Pipeline velocity = open "
    "deals x average amount of the deals won in the period x hit rate / mean time to close "
    "(days): expected revenue per day. Repeat sales = non-cancelled orders placed in the period "
    "after the customer's first order; cross-sales = those of them containing a product (SKU) "
    "the customer had not bought before.",
)
async def sales(p: PeriodQ, uow: UoW, _: Reader) -> s.Sales:
    async with uow:
        return await service.sales(uow, *p)


@router.get(
    "/service",
    response_model=s.Service,
    summary="Service: response and resolution times, SLA compliance, CSAT",
    description="Over tickets solved in [from, to): first-response and resolution times in "
    "seconds (mean, median) as the tickets service measured them; SLA compliance = tickets "
    "solved without an SLA breach / tickets solved x 100%. CSAT = ratings of 4 or 5 / all "
    "ratings x 100% over ratings submitted in the period (and their mean, 1-5).",
)
async def service_levels(p: PeriodQ, uow: UoW, _: Reader) -> s.Service:
    async with uow:
        return await service.service_levels(uow, *p)


@router.get(
    "/clv",
    response_model=s.ClvFit,
    summary="Customer lifetime value: historic and predicted",
    description="Historic CLV = revenue of a customer's non-cancelled orders up to `as_of`. "
    "Predicted CLV (next 52 weeks) = E[Y(52) | x, t_x, T] from BG/NBD (Fader, Hardie & Lee "
    "2005) x E[M | x, zbar] from Gamma-Gamma (Fader & Hardie 2013), both fitted by maximum "
    "likelihood on the tenant's customers (x repeat orders, t_x weeks first to last order, T "
    "weeks since the first order, zbar mean repeat order value). Needs at least 20 customers.",
)
async def clv(as_of: AsOf, uow: UoW, _: Reader) -> s.ClvFit:
    async with uow:
        return await service.clv(uow, as_of)


@scores_router.post(
    "/recompute",
    response_model=s.Recomputed,
    summary="Recompute every customer's scores now",
    description="Recomputes RFM, segment, value tier, historic and predicted CLV and churn "
    "probability for every customer as of `as_of` (default now) and publishes "
    "`crm.customer.segment_changed` only for customers whose segment or tier changed (and "
    "`crm.customer.churn_risk_changed` when the risk band changed).",
)
async def recompute(as_of: AsOf, uow: UoW, _: Analyst) -> s.Recomputed:
    async with uow:
        covered = await requests_now(uow)
        result = await recompute_scores(uow, as_of)
        await mark_computed(uow, covered, datetime.now(UTC))
    return s.Recomputed(as_of=as_of, **result)


@router.get(
    "/campaigns",
    response_model=s.CampaignEffectiveness,
    summary="Campaigns: response, conversion, cost per response, attributed revenue, ROI",
    description="Per campaign with touches in [from, to): reached = customers with a `delivered` "
    "touch (`sent` when the campaign reports no deliveries); responders = customers who "
    "`responded` or `clicked`; response rate = responders / reached x 100%; converted = reached "
    "customers with a non-cancelled order within `window_days` after their first touch; "
    "conversion rate = converted / reached x 100%; cost = actual cost (budget until completed); "
    "cost per response = cost / responders. Revenue attribution over orders placed in the "
    "period, from the customer's touches (all kinds but bounced and unsubscribed) in the "
    "`window_days` before the order: first touch (all to the earliest), last touch (all to "
    "the latest), linear (split equally over the touches). ROI = (linear revenue - cost) / "
    "cost x 100%.",
)
async def campaign_effectiveness(
    p: PeriodQ,
    uow: UoW,
    _: Reader,
    window_days: Annotated[int, Query(ge=1, le=365, description="attribution window")] = 30,
) -> s.CampaignEffectiveness:
    async with uow:
        return await service.campaigns(uow, *p, window_days)
