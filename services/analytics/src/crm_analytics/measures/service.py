"""Loading each measure's inputs for a tenant and period and applying the formulas.

A period is [start, end) in UTC days; "the previous period" is the same number of days just
before it. Orders count when placed in the period and not cancelled.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import func, or_, select

from crm_analytics.measures import formulas as f
from crm_analytics.measures import schemas as s
from crm_analytics.projections.models import (
    Campaign,
    CampaignTouch,
    Contract,
    ContractEnd,
    Csat,
    CustomerScore,
    Opportunity,
    Order,
    SurveyAnswer,
    Ticket,
)
from crm_analytics.scores.service import HORIZON_WEEKS, compute_scores, purchase_histories
from crm_shared.uow import UnitOfWork


def at(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def segment_members(uow: UnitOfWork, segment: str | None) -> set[str] | None:
    """Customers whose last computed RFM segment or value tier is `segment` (None: everyone)."""
    if segment is None:
        return None
    rows = await uow.session.scalars(
        select(CustomerScore.contact_id).where(
            or_(CustomerScore.rfm_segment == segment, CustomerScore.value_tier == segment)
        )
    )
    return set(rows)


def only(customers: set[str], members: set[str] | None) -> set[str]:
    return customers if members is None else customers & members


def period(start: date, end: date) -> s.Period:
    return s.Period(start=start, end=end)


async def buyers(uow: UnitOfWork, start: datetime, end: datetime) -> set[str]:
    rows = await uow.session.scalars(
        select(Order.contact_id)
        .where(Order.cancelled_at.is_(None), Order.placed_at >= start, Order.placed_at < end)
        .distinct()
    )
    return set(rows)


async def retention(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.Retention:
    members = await segment_members(uow, segment)
    previous_start = start - (end - start)
    previous = only(await buyers(uow, at(previous_start), at(start)), members)
    current = only(await buyers(uow, at(start), at(end)), members)
    kt, k_prev, rate = f.retention_rate(previous, current)
    return s.Retention(
        period=period(start, end),
        previous_period=period(previous_start, start),
        formula="W = Kt / K(t-1) x 100%",
        numerator=kt,
        denominator=k_prev,
        rate=rate,
    )


async def contract_ends(uow: UnitOfWork, start: date, end: date) -> tuple[set[str], set[str]]:
    """(customers with a contract term ending in the period, those not renewing one)."""
    rows = (
        await uow.session.execute(
            select(ContractEnd.contact_id, ContractEnd.renewed).where(
                ContractEnd.end_date >= start, ContractEnd.end_date < end
            )
        )
    ).all()
    return {c for c, _ in rows}, {c for c, renewed in rows if not renewed}


async def static_churn(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.RateMeasure:
    members = await segment_members(uow, segment)
    _, left = await contract_ends(uow, start, end)
    customers = set(
        await uow.session.scalars(
            select(Order.contact_id).where(Order.placed_at < at(end)).distinct()
        )
    )
    customers |= set(
        await uow.session.scalars(
            select(Contract.contact_id)
            .where((Contract.starts_on.is_(None)) | (Contract.starts_on < end))
            .distinct()
        )
    )
    kz, k, rate = f.churn_rate(left, only(customers, members))
    return s.RateMeasure(
        period=period(start, end),
        formula="W = Kz / K x 100%",
        numerator=kz,
        denominator=k,
        rate=rate,
    )


async def dynamic_churn(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.RateMeasure:
    members = await segment_members(uow, segment)
    ended, left = await contract_ends(uow, start, end)
    kz, ku, rate = f.churn_rate(left, only(ended, members))
    return s.RateMeasure(
        period=period(start, end),
        formula="W = Kz / Ku x 100%",
        numerator=kz,
        denominator=ku,
        rate=rate,
    )


async def latest_answers(uow: UnitOfWork, start: date, end: date) -> list[SurveyAnswer]:
    """Each respondent's latest answer in the period."""
    rows = await uow.session.scalars(
        select(SurveyAnswer)
        .where(SurveyAnswer.answered_at >= at(start), SurveyAnswer.answered_at < at(end))
        .order_by(SurveyAnswer.contact_id, SurveyAnswer.answered_at, SurveyAnswer.response_id)
    )
    latest: dict[str, SurveyAnswer] = {}
    for row in rows:
        latest[row.contact_id] = row
    return list(latest.values())


async def loyalty(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.LoyaltyIndexes:
    members = await segment_members(uow, segment)
    answers = [
        a
        for a in await latest_answers(uow, start, end)
        if a.repurchase_intent and (members is None or a.contact_id in members)
    ]
    k, kb, kw, standard, strengthened = f.loyalty_indexes(
        {a.contact_id: a.repurchase_intent for a in answers}
    )
    return s.LoyaltyIndexes(
        period=period(start, end),
        formula="WLK = (Kb + Kw) / K x 100%; WWLK = Kb / K x 100%",
        surveyed=k,
        unconditional=kb,
        conditional=kw,
        standard_index=standard,
        strengthened_index=strengthened,
    )


async def nps(uow: UnitOfWork, start: date, end: date, segment: str | None = None) -> s.Nps:
    members = await segment_members(uow, segment)
    rows = await uow.session.scalars(
        select(SurveyAnswer)
        .where(
            SurveyAnswer.answered_at >= at(start),
            SurveyAnswer.answered_at < at(end),
            SurveyAnswer.nps_score.is_not(None),
        )
        .order_by(SurveyAnswer.contact_id, SurveyAnswer.answered_at, SurveyAnswer.response_id)
    )
    latest = {
        row.contact_id: row.nps_score
        for row in rows
        if members is None or row.contact_id in members
    }
    n, promoters, detractors, score = f.net_promoter_score(
        v for v in latest.values() if v is not None
    )
    return s.Nps(
        period=period(start, end),
        formula="NPS = % promoters (9-10) - % detractors (0-6)",
        respondents=n,
        promoters=promoters,
        detractors=detractors,
        nps=score,
    )


async def rfm(uow: UnitOfWork, as_of: datetime, limit: int) -> s.Rfm:
    scores, _ = compute_scores(await purchase_histories(uow, as_of), as_of, with_clv=False)
    ranked = sorted(scores, key=lambda x: (-(x.r + x.f + x.m), x.contact_id))
    return s.Rfm(
        as_of=as_of,
        formula="score = 1 + floor(5 x w / n) per dimension (w = customers strictly worse)",
        segment_rules=[s.SegmentRule(segment=n, rule=r) for n, r in f.RFM_SEGMENT_RULES],
        value_tier_rule=f.VALUE_TIER_RULES,
        segments=dict(Counter(x.segment for x in scores)),
        value_tiers=dict(Counter(x.tier for x in scores)),
        customers=[
            s.RfmCustomer(
                contact_id=x.contact_id,
                recency_days=x.recency_days,
                frequency=x.frequency,
                monetary=x.monetary,
                r=x.r,
                f=x.f,
                m=x.m,
                segment=x.segment,
                value_tier=x.tier,
            )
            for x in ranked[:limit]
        ],
    )


async def pareto(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.ParetoConcentration:
    members = await segment_members(uow, segment)
    rows = await uow.session.execute(
        select(Order.contact_id, func.sum(Order.total))
        .where(
            Order.cancelled_at.is_(None),
            Order.placed_at >= at(start),
            Order.placed_at < at(end),
            Order.total.is_not(None),
        )
        .group_by(Order.contact_id)
    )
    result = f.pareto_concentration(
        total
        for contact_id, total in rows
        if total is not None and (members is None or contact_id in members)
    )
    return s.ParetoConcentration(
        period=period(start, end),
        formula="share = revenue of the top ceil(20% x n) customers / total revenue x 100%",
        customers=result.customers,
        top_customers=result.top_customers,
        top_revenue=result.top_revenue,
        total_revenue=result.total_revenue,
        share=result.share,
    )


async def loyalty_typology(uow: UnitOfWork, as_of: datetime) -> s.LoyaltyTypology:
    ratings: dict[str, list[int]] = defaultdict(list)
    for contact_id, score in await uow.session.execute(
        select(Csat.contact_id, Csat.score).where(Csat.submitted_at <= as_of)
    ):
        ratings[contact_id].append(score)
    for contact_id, satisfaction in await uow.session.execute(
        select(SurveyAnswer.contact_id, SurveyAnswer.satisfaction).where(
            SurveyAnswer.answered_at <= as_of, SurveyAnswer.satisfaction.is_not(None)
        )
    ):
        if satisfaction is not None:
            ratings[contact_id].append(satisfaction)
    histories = await purchase_histories(uow, as_of)
    types = Counter(
        f.loyalty_type(statistics.fmean(values), histories[c].count if c in histories else 0)
        for c, values in ratings.items()
    )
    return s.LoyaltyTypology(
        as_of=as_of,
        formula="satisfied: mean CSAT/survey satisfaction (1-5) >= 4; loyal: >= 2 orders; "
        "loyalists = satisfied & loyal, mercenaries = satisfied & not loyal, hostages = not "
        "satisfied & loyal, defectors = neither",
        customers={t: types.get(t, 0) for t in f.LOYALTY_TYPES.values()},
    )


async def sales(uow: UnitOfWork, start: date, end: date) -> s.Sales:
    closed = (
        await uow.session.execute(
            select(
                Opportunity.status,
                Opportunity.created_at,
                Opportunity.closed_at,
                Opportunity.amount,
            ).where(
                Opportunity.status.in_(("won", "lost")),
                Opportunity.closed_at >= at(start),
                Opportunity.closed_at < at(end),
            )
        )
    ).all()
    won = [r for r in closed if r.status == "won"]
    durations = [
        (r.closed_at - r.created_at).total_seconds() / 86400
        for r in won
        if r.created_at is not None and r.closed_at is not None
    ]
    mean, median = f.summary(durations)
    won_amounts = [r.amount for r in won if r.amount is not None]
    average_won = sum(won_amounts, Decimal(0)) / len(won_amounts) if won_amounts else None
    stages = (
        await uow.session.execute(
            select(
                Opportunity.stage_id,
                func.count(),
                func.coalesce(func.sum(Opportunity.amount), 0),
            )
            .where(Opportunity.status == "open")
            .group_by(Opportunity.stage_id)
            .order_by(Opportunity.stage_id)
        )
    ).all()
    open_count = sum(n for _, n, _ in stages)
    velocity = None
    if average_won is not None and mean:
        hit = Decimal(len(won)) / Decimal(len(closed))
        velocity = round(Decimal(open_count) * average_won * hit / Decimal(str(mean)), 2)
    orders = (
        await uow.session.execute(
            select(Order.contact_id, Order.placed_at, Order.skus)
            .where(Order.cancelled_at.is_(None), Order.placed_at < at(end))
            .order_by(Order.contact_id, Order.placed_at, Order.order_id)
        )
    ).all()
    repeat = cross = 0
    seen: dict[str, set[str]] = {}
    for contact_id, placed, skus in orders:
        bought = seen.get(contact_id)
        if placed is not None and placed >= at(start) and bought is not None:
            repeat += 1
            if set(skus or ()) - bought:
                cross += 1
        seen[contact_id] = (bought or set()) | set(skus or ())
    return s.Sales(
        period=period(start, end),
        formula="hit rate = won / (won + lost) x 100%; time to close = won_at - created (days); "
        "pipeline velocity = open deals x average won amount x hit rate / mean time to close",
        won=len(won),
        lost=len(closed) - len(won),
        hit_rate=f.percent(len(won), len(closed)),
        time_to_close_days_mean=mean,
        time_to_close_days_median=median,
        average_won_amount=round(average_won, 2) if average_won is not None else None,
        open_opportunities=open_count,
        pipeline_velocity_per_day=velocity,
        pipeline_by_stage=[
            s.StageTotal(stage_id=stage, count=n, amount=amount) for stage, n, amount in stages
        ],
        repeat_sales=repeat,
        cross_sales=cross,
    )


async def service_levels(uow: UnitOfWork, start: date, end: date) -> s.Service:
    solved = (
        await uow.session.scalars(
            select(Ticket).where(Ticket.solved_at >= at(start), Ticket.solved_at < at(end))
        )
    ).all()
    first = [t.first_response_seconds for t in solved if t.first_response_seconds is not None]
    resolution = [t.resolution_seconds for t in solved if t.resolution_seconds is not None]
    fr_mean, fr_median = f.summary(first)
    res_mean, res_median = f.summary(resolution)
    scores = list(
        await uow.session.scalars(
            select(Csat.score).where(Csat.submitted_at >= at(start), Csat.submitted_at < at(end))
        )
    )
    return s.Service(
        period=period(start, end),
        formula="over tickets solved in the period: first-response and resolution seconds (mean, "
        "median); SLA compliance = solved without an SLA breach / solved x 100%; CSAT = ratings "
        "4-5 / ratings x 100% over ratings submitted in the period",
        tickets_solved=len(solved),
        first_response_seconds_mean=fr_mean,
        first_response_seconds_median=fr_median,
        resolution_seconds_mean=res_mean,
        resolution_seconds_median=res_median,
        sla_compliance=f.percent(sum(1 for t in solved if not t.sla_breached), len(solved)),
        csat_responses=len(scores),
        csat=f.percent(sum(1 for v in scores if v >= 4), len(scores)),
        csat_mean=f.summary([float(v) for v in scores])[0],
    )


async def clv(uow: UnitOfWork, as_of: datetime) -> s.ClvFit:
    histories = await purchase_histories(uow, as_of)
    scores, models = compute_scores(histories, as_of)
    predicted = [x.predicted_clv for x in scores if x.predicted_clv is not None]
    bg, gg = models.bgnbd, models.gamma_gamma
    return s.ClvFit(
        as_of=as_of,
        formula="historic CLV = revenue of non-cancelled orders to date; predicted CLV = "
        f"E[purchases in the next {HORIZON_WEEKS} weeks | x, t_x, T] (BG/NBD) x E[spend | x, "
        "zbar] (Gamma-Gamma), both fitted by maximum likelihood, weeks as the time unit",
        customers=len(scores),
        historic_clv_total=sum((h.total for h in histories.values()), Decimal(0)),
        bgnbd=None if bg is None else {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b},
        gamma_gamma=None if gg is None else {"p": gg.p, "q": gg.q, "v": gg.v},
        predicted_clv_total=round(float(np.sum(predicted)), 2) if predicted else None,
    )


def default_period(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or datetime.now(UTC).date() + timedelta(days=1)
    start = start or end - timedelta(days=365)
    return start, end


async def campaigns(
    uow: UnitOfWork, start: date, end: date, window_days: int
) -> s.CampaignEffectiveness:
    window = timedelta(days=window_days)
    touches_in_period = [
        f.Touch(t.campaign_id, t.contact_id, t.kind, t.occurred_at)
        for t in await uow.session.scalars(
            select(CampaignTouch).where(
                CampaignTouch.occurred_at >= at(start), CampaignTouch.occurred_at < at(end)
            )
        )
    ]
    sales = [
        f.Sale(o.contact_id, o.placed_at, o.total)
        for o in await uow.session.scalars(
            select(Order).where(
                Order.cancelled_at.is_(None),
                Order.placed_at >= at(start),
                Order.placed_at < at(end),
                Order.total.is_not(None),
            )
        )
        if o.placed_at is not None and o.total is not None
    ]
    # attribution looks back `window` from each sale, so touches before the period count too
    attribution_touches = [
        f.Touch(t.campaign_id, t.contact_id, t.kind, t.occurred_at)
        for t in await uow.session.scalars(
            select(CampaignTouch).where(
                CampaignTouch.occurred_at >= at(start) - window, CampaignTouch.occurred_at < at(end)
            )
        )
    ]
    credit, unattributed = f.attribute(sales, attribution_touches, window)
    ids = sorted({t.campaign_id for t in touches_in_period} | set(credit))
    known = {
        c.campaign_id: c
        for c in await uow.session.scalars(select(Campaign).where(Campaign.campaign_id.in_(ids)))
    }
    first_touch: dict[tuple[str, str], datetime] = {}
    for t in touches_in_period:
        key = (t.campaign_id, t.contact_id)
        first_touch[key] = min(first_touch.get(key, t.at), t.at)
    orders_by_contact: dict[str, list[datetime]] = defaultdict(list)
    for sale in sales:
        orders_by_contact[sale.contact_id].append(sale.at)
    results = []
    for campaign_id in ids:
        own = [t for t in touches_in_period if t.campaign_id == campaign_id]
        delivered = {t.contact_id for t in own if t.kind == "delivered"}
        reached = delivered or {t.contact_id for t in own if t.kind == "sent"}
        responders = {t.contact_id for t in own if t.kind in f.RESPONSE_KINDS}
        converted = {
            c
            for c in reached
            if any(
                first_touch[(campaign_id, c)] <= placed <= first_touch[(campaign_id, c)] + window
                for placed in orders_by_contact.get(c, [])
            )
        }
        campaign = known.get(campaign_id)
        cost = None
        if campaign is not None:
            cost = campaign.actual_cost if campaign.actual_cost is not None else campaign.budget
        got = credit.get(campaign_id, f.Credit())
        results.append(
            s.CampaignResult(
                campaign_id=campaign_id,
                name=campaign.name if campaign else None,
                reached=len(reached),
                responders=len(responders),
                response_rate=f.percent(len(responders), len(reached)),
                converted=len(converted),
                conversion_rate=f.percent(len(converted), len(reached)),
                cost=cost,
                cost_per_response=round(cost / len(responders), 2) if cost and responders else None,
                revenue_first_touch=round(got.first_touch, 2),
                revenue_last_touch=round(got.last_touch, 2),
                revenue_linear=round(got.linear, 2),
                roi=f.percent(got.linear - cost, cost) if cost else None,
            )
        )
    return s.CampaignEffectiveness(
        period=period(start, end),
        formula="response rate = responders / reached x 100%; conversion rate = converted / "
        "reached x 100%; cost per response = cost / responders; ROI = (linear attributed revenue "
        "- cost) / cost x 100%",
        window_days=window_days,
        revenue=sum((x.amount for x in sales), Decimal(0)),
        unattributed_revenue=unattributed,
        campaigns=results,
    )
