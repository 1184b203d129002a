"""Loading each measure's inputs for a tenant and period and applying the formulas.

A period is [start, end) in UTC days; "the previous period" is the same number of days just
before it. Orders count when placed in the period and not cancelled.

Each measure is counted in the database (one statement over the orders, most of them streaming
over ix_orders_customer_history without a sort), so only counts and sums come back; what needs
Python (the CLV fit, the RFM ranks) reads one row per customer, never one per order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select

from crm_analytics.measures import formulas as f
from crm_analytics.measures import schemas as s
from crm_analytics.projections.models import Campaign, CampaignTouch, Opportunity
from crm_analytics.scores.service import (
    HORIZON_WEEKS,
    compute_scores,
    customer_orders,
    for_aggregates,
)
from crm_shared.uow import UnitOfWork


def at(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def period(start: date, end: date) -> s.Period:
    return s.Period(start=start, end=end)


def in_segment(param: int, segment: str | None) -> str:
    """SQL condition: the row's customer has `segment` as last computed RFM segment or value
    tier (bound to $param); always true without a segment."""
    if segment is None:
        return "TRUE"
    return (
        f"contact_id IN (SELECT contact_id FROM customer_scores WHERE rfm_segment = ${param} "
        f"OR value_tier = ${param})"
    )


def segment_args(segment: str | None) -> tuple[str, ...]:
    return () if segment is None else (segment,)


async def one(uow: UnitOfWork, sql: str, *args: Any, stream: bool = False) -> Any:
    """The single row of an aggregate query, on the transaction's driver connection (see
    `for_aggregates` for `stream`)."""
    driver = await uow.driver()
    await for_aggregates(driver, stream=stream)
    return await driver.fetchrow(sql, *args)


async def rows(uow: UnitOfWork, sql: str, *args: Any) -> list[Any]:
    driver = await uow.driver()
    await for_aggregates(driver)
    return list(await driver.fetch(sql, *args))


async def retention(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.Retention:
    previous_start = start - (end - start)
    kt, k_prev = await one(
        uow,
        f"""
        SELECT count(*) FILTER (WHERE before AND during), count(*) FILTER (WHERE before)
        FROM (SELECT bool_or(placed_at < $2) AS before, bool_or(placed_at >= $2) AS during
              FROM orders
              WHERE cancelled_at IS NULL AND placed_at >= $1 AND placed_at < $3
                AND {in_segment(4, segment)}
              GROUP BY contact_id) AS buyers
        """,
        at(previous_start),
        at(start),
        at(end),
        *segment_args(segment),
        stream=True,
    )
    return s.Retention(
        period=period(start, end),
        previous_period=period(previous_start, start),
        formula="W = Kt / K(t-1) x 100%",
        numerator=kt,
        denominator=k_prev,
        rate=f.percent(kt, k_prev),
    )


async def static_churn(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.RateMeasure:
    # K: anyone with an order or a contract before the end (the buyers, streamed from the
    # index, plus the contract holders without such an order); Kz: those of them who left
    k, kz = await one(
        uow,
        f"""
        SELECT (SELECT count(*) FROM (SELECT DISTINCT contact_id FROM orders
                                      WHERE placed_at < $3 AND {in_segment(4, segment)}) AS b)
               + (SELECT count(DISTINCT contact_id) FROM contracts AS c
                  WHERE (starts_on IS NULL OR starts_on < $2) AND {in_segment(4, segment)}
                    AND NOT EXISTS (SELECT FROM orders AS o
                                    WHERE o.contact_id = c.contact_id AND o.placed_at < $3)),
               (SELECT count(DISTINCT contact_id) FROM contract_ends AS e
                WHERE end_date >= $1 AND end_date < $2 AND NOT renewed
                  AND {in_segment(4, segment)}
                  AND (EXISTS (SELECT FROM orders AS o
                               WHERE o.contact_id = e.contact_id AND o.placed_at < $3)
                       OR EXISTS (SELECT FROM contracts AS c
                                  WHERE c.contact_id = e.contact_id
                                    AND (c.starts_on IS NULL OR c.starts_on < $2))))
        """,
        start,
        end,
        at(end),
        *segment_args(segment),
        stream=True,
    )
    return s.RateMeasure(
        period=period(start, end),
        formula="W = Kz / K x 100%",
        numerator=kz,
        denominator=k,
        rate=f.percent(kz, k),
    )


async def dynamic_churn(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.RateMeasure:
    # Ku: customers with a contract term ending in the period; Kz: those not renewing one
    kz, ku = await one(
        uow,
        f"""
        SELECT count(DISTINCT contact_id) FILTER (WHERE NOT renewed), count(DISTINCT contact_id)
        FROM contract_ends
        WHERE end_date >= $1 AND end_date < $2 AND {in_segment(3, segment)}
        """,
        start,
        end,
        *segment_args(segment),
    )
    return s.RateMeasure(
        period=period(start, end),
        formula="W = Kz / Ku x 100%",
        numerator=kz,
        denominator=ku,
        rate=f.percent(kz, ku),
    )


def latest_answers(where: str) -> str:
    """Each respondent's latest answer in [$1, $2) (by answered_at, then response id)."""
    return f"""
        SELECT DISTINCT ON (contact_id) contact_id, nps_score, repurchase_intent
        FROM survey_answers
        WHERE answered_at >= $1 AND answered_at < $2 AND {where}
        ORDER BY contact_id, answered_at DESC, response_id DESC
    """


async def loyalty(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.LoyaltyIndexes:
    # over the respondents whose latest answer states an intent
    k, kb, kw = await one(
        uow,
        f"""
        SELECT count(*), count(*) FILTER (WHERE repurchase_intent = 'unconditional'),
               count(*) FILTER (WHERE repurchase_intent = 'conditional')
        FROM ({latest_answers(in_segment(3, segment))}) AS latest
        WHERE repurchase_intent <> ''
        """,
        at(start),
        at(end),
        *segment_args(segment),
    )
    return s.LoyaltyIndexes(
        period=period(start, end),
        formula="WLK = (Kb + Kw) / K x 100%; WWLK = Kb / K x 100%",
        surveyed=k,
        unconditional=kb,
        conditional=kw,
        standard_index=f.percent(kb + kw, k),
        strengthened_index=f.percent(kb, k),
    )


async def nps(uow: UnitOfWork, start: date, end: date, segment: str | None = None) -> s.Nps:
    n, promoters, detractors = await one(
        uow,
        f"""
        SELECT count(*), count(*) FILTER (WHERE nps_score >= {f.PROMOTER_FROM}),
               count(*) FILTER (WHERE nps_score <= {f.DETRACTOR_UP_TO})
        FROM ({latest_answers("nps_score IS NOT NULL AND " + in_segment(3, segment))}) AS latest
        """,
        at(start),
        at(end),
        *segment_args(segment),
    )
    return s.Nps(
        period=period(start, end),
        formula="NPS = % promoters (9-10) - % detractors (0-6)",
        respondents=n,
        promoters=promoters,
        detractors=detractors,
        nps=f.net_promoter_score(n, promoters, detractors),
    )


async def rfm(uow: UnitOfWork, as_of: datetime, limit: int) -> s.Rfm:
    customers = await customer_orders(uow, as_of, repeat=False)
    scores, _ = compute_scores(customers, with_clv=False)
    rank = scores.r + scores.f + scores.m
    listed = await rows(
        uow,
        "SELECT i, contact_id, total FROM customer_orders WHERE i = ANY($1::int[])",
        best(rank, limit),
    )
    return s.Rfm(
        as_of=as_of,
        formula="score = 1 + floor(5 x w / n) per dimension (w = customers strictly worse)",
        segment_rules=[s.SegmentRule(segment=n, rule=r) for n, r in f.RFM_SEGMENT_RULES],
        value_tier_rule=f.VALUE_TIER_RULES,
        segments=counts(scores.segment, f.SEGMENTS),
        value_tiers=counts(scores.tier, f.VALUE_TIERS),
        customers=[
            s.RfmCustomer(
                contact_id=contact_id,
                recency_days=round(float(customers.recency_days[i]), 4),
                frequency=int(customers.orders[i]),
                monetary=total,
                r=int(scores.r[i]),
                f=int(scores.f[i]),
                m=int(scores.m[i]),
                segment=f.SEGMENTS[scores.segment[i]],
                value_tier=f.VALUE_TIERS[scores.tier[i]],
            )
            for i, contact_id, total in sorted(listed, key=lambda c: (-rank[c[0]], c[1]))[:limit]
        ],
    )


def best(rank: Any, limit: int) -> list[int]:
    """Positions of the customers ranked at least as high as the `limit`-th (ties by id are
    broken once their ids are known)."""
    if limit == 0 or not len(rank):
        return []
    cutoff = -np.sort(-rank)[min(limit, len(rank)) - 1]
    return np.flatnonzero(rank >= cutoff).tolist()


def counts(codes: Any, names: list[str]) -> dict[str, int]:
    """How many customers per name, for the names that occur."""
    found = np.bincount(codes, minlength=len(names))
    return {name: int(n) for name, n in zip(names, found, strict=True) if n}


async def pareto(
    uow: UnitOfWork, start: date, end: date, segment: str | None = None
) -> s.ParetoConcentration:
    # customers with revenue in the period, ranked by it; the top ceil(20% x n) of them
    n, top, top_revenue, total = await one(
        uow,
        f"""
        SELECT count(*), coalesce(max(top), 0),
               coalesce(sum(revenue) FILTER (WHERE place <= top), 0),
               coalesce(sum(revenue), 0)
        FROM (SELECT revenue, row_number() OVER (ORDER BY revenue DESC) AS place,
                     ceil($3::numeric * count(*) OVER ())::bigint AS top
              FROM (SELECT sum(total) AS revenue FROM orders
                    WHERE cancelled_at IS NULL AND placed_at >= $1 AND placed_at < $2
                      AND total IS NOT NULL AND {in_segment(4, segment)}
                    GROUP BY contact_id) AS customers
              WHERE revenue > 0) AS ranked
        """,
        at(start),
        at(end),
        Decimal(str(f.PARETO_TOP)),
        *segment_args(segment),
        stream=True,
    )
    return s.ParetoConcentration(
        period=period(start, end),
        formula="share = revenue of the top ceil(20% x n) customers / total revenue x 100%",
        customers=n,
        top_customers=top,
        top_revenue=top_revenue,
        total_revenue=total,
        share=f.percent(top_revenue, total),
    )


async def loyalty_typology(uow: UnitOfWork, as_of: datetime) -> s.LoyaltyTypology:
    # per rated customer: satisfied (mean rating >= 4, compared without dividing) and loyal
    # (at least 2 orders: counting stops at 2, from the index)
    counted = await rows(
        uow,
        """
        SELECT total >= $2 * n AS satisfied,
               (SELECT count(*) FROM (SELECT FROM orders AS o
                                      WHERE o.contact_id = rated.contact_id
                                        AND o.cancelled_at IS NULL AND o.placed_at <= $1
                                        AND o.total IS NOT NULL
                                      LIMIT $3) AS enough) >= $3 AS loyal,
               count(*) AS customers
        FROM (SELECT contact_id, sum(rating) AS total, count(*) AS n
              FROM (SELECT contact_id, score AS rating FROM csat_scores WHERE submitted_at <= $1
                    UNION ALL
                    SELECT contact_id, satisfaction FROM survey_answers
                    WHERE answered_at <= $1 AND satisfaction IS NOT NULL) AS ratings
              GROUP BY contact_id) AS rated
        GROUP BY 1, 2
        """,
        as_of,
        f.SATISFIED_AT,
        f.LOYAL_AT,
    )
    types = {f.LOYALTY_TYPES[(r["satisfied"], r["loyal"])]: r["customers"] for r in counted}
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
    # repeat: orders after the customer's first (by placed_at, order_id: their position `nth`);
    # cross: those of them bringing the customer a product they had not bought before. Each
    # order's position and new products are kept in order_sequence (see its model).
    repeat, cross = await one(
        uow,
        """
        SELECT count(*) FILTER (WHERE nth > 1), count(*) FILTER (WHERE nth > 1 AND new_products > 0)
        FROM order_sequence WHERE placed_at >= $1 AND placed_at < $2
        """,
        at(start),
        at(end),
    )
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
    solved = await rows(
        uow,
        "SELECT first_response_seconds, resolution_seconds, sla_breached FROM tickets "
        "WHERE solved_at >= $1 AND solved_at < $2",
        at(start),
        at(end),
    )
    first = [t[0] for t in solved if t[0] is not None]
    resolution = [t[1] for t in solved if t[1] is not None]
    fr_mean, fr_median = f.summary(first)
    res_mean, res_median = f.summary(resolution)
    scores = [
        r[0]
        for r in await rows(
            uow,
            "SELECT score FROM csat_scores WHERE submitted_at >= $1 AND submitted_at < $2",
            at(start),
            at(end),
        )
    ]
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
        sla_compliance=f.percent(sum(1 for t in solved if not t[2]), len(solved)),
        csat_responses=len(scores),
        csat=f.percent(sum(1 for v in scores if v >= 4), len(scores)),
        csat_mean=f.summary([float(v) for v in scores])[0],
    )


async def clv(uow: UnitOfWork, as_of: datetime) -> s.ClvFit:
    customers = await customer_orders(uow, as_of)
    scores, models = compute_scores(customers)
    (historic,) = await one(uow, "SELECT coalesce(sum(total), 0) FROM customer_orders")
    predicted = scores.predicted_clv
    if predicted is not None:
        predicted = predicted[np.isfinite(predicted)]
    bg, gg = models.bgnbd, models.gamma_gamma
    return s.ClvFit(
        as_of=as_of,
        formula="historic CLV = revenue of non-cancelled orders to date; predicted CLV = "
        f"E[purchases in the next {HORIZON_WEEKS} weeks | x, t_x, T] (BG/NBD) x E[spend | x, "
        "zbar] (Gamma-Gamma), both fitted by maximum likelihood, weeks as the time unit",
        customers=len(customers),
        historic_clv_total=historic,
        bgnbd=None if bg is None else {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b},
        gamma_gamma=None if gg is None else {"p": gg.p, "q": gg.q, "v": gg.v},
        predicted_clv_total=round(float(np.sum(predicted)), 2)
        if predicted is not None and len(predicted)
        else None,
    )


def default_period(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or datetime.now(UTC).date() + timedelta(days=1)
    start = start or end - timedelta(days=365)
    return start, end


async def campaigns(
    uow: UnitOfWork, start: date, end: date, window_days: int
) -> s.CampaignEffectiveness:
    window = timedelta(days=window_days)
    # attribution looks back `window` from each sale, so touches before the period count too
    attribution_touches = [
        f.Touch(t.campaign_id, t.contact_id, t.kind, t.occurred_at)
        for t in await uow.session.scalars(
            select(CampaignTouch).where(
                CampaignTouch.occurred_at >= at(start) - window, CampaignTouch.occurred_at < at(end)
            )
        )
    ]
    touches_in_period = [t for t in attribution_touches if t.at >= at(start)]
    # only the touched customers' sales can be credited or converted: the rest is summed
    revenue, touched_revenue = await one(
        uow,
        """
        SELECT coalesce(sum(total), 0), coalesce(sum(total) FILTER (WHERE contact_id IN (
                   SELECT contact_id FROM campaign_touches
                   WHERE occurred_at >= $3 AND occurred_at < $2)), 0)
        FROM orders
        WHERE cancelled_at IS NULL AND placed_at >= $1 AND placed_at < $2
          AND total IS NOT NULL
        """,
        at(start),
        at(end),
        at(start) - window,
    )
    sales = [
        f.Sale(contact_id, placed_at, total)
        for contact_id, placed_at, total in await rows(
            uow,
            """
            SELECT contact_id, placed_at, total FROM orders
            WHERE cancelled_at IS NULL AND placed_at >= $1 AND placed_at < $2
              AND total IS NOT NULL
              AND contact_id IN (SELECT contact_id FROM campaign_touches
                                 WHERE occurred_at >= $3 AND occurred_at < $2)
            """,
            at(start),
            at(end),
            at(start) - window,
        )
    ]
    credit, unattributed = f.attribute(sales, attribution_touches, window)
    unattributed += revenue - touched_revenue
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
        revenue=revenue,
        unattributed_revenue=unattributed,
        campaigns=results,
    )
