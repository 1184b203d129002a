"""GET /v1/forecast: open and weighted pipeline, closed won, hit rate and time to close.

For the period [from, to] (dates, inclusive), over the deals the caller may see, per currency
(no conversion), grouped by owner, team or stage:
- open_pipeline: sum of amounts of open deals expected to close in the period;
- weighted_pipeline: sum of amount x probability / 100 over the same deals (cent rounded once,
  at the end);
- closed_won: sum of amounts of deals won in the period (closed_at within it);
- hit_rate: won / (won + lost) among deals closed in the period, as a percentage;
- avg_days_to_close: mean of (closed_at - created_at) in days over the deals won in the period.

With `convert=true`, amounts are converted into the tenant's base currency with its exchange
rates (PUT /v1/exchange-rates) before summing, one row per group; a currency without a rate is
a 422 naming it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select

from crm_opportunities.deals.models import Opportunity
from crm_opportunities.money import cents
from crm_opportunities.permissions import Reader
from crm_opportunities.quotes.models import SalesSettings
from crm_opportunities.quotes.service import rates_of
from crm_opportunities.teams.service import visibility
from crm_shared.errors import Unprocessable, ValidationFailed
from crm_shared.web import UoW

router = APIRouter(tags=["forecast"])
GroupBy = Literal["owner", "team", "stage"]


class ForecastRow(BaseModel):
    group: str | None
    currency: str
    open_count: int
    open_pipeline: Decimal
    weighted_pipeline: Decimal
    won_count: int
    lost_count: int
    closed_won: Decimal
    hit_rate: Decimal | None
    avg_days_to_close: Decimal | None


class Forecast(BaseModel):
    period_from: date
    period_to: date
    group_by: GroupBy
    rows: list[ForecastRow]


@router.get("/v1/forecast", response_model=Forecast, summary="Weighted forecast and hit rate")
async def forecast(
    uow: UoW,
    principal: Reader,
    period_from: Annotated[date, Query(alias="from")],
    period_to: Annotated[date, Query(alias="to")],
    group_by: GroupBy = "owner",
    convert: Annotated[bool, Query(description="Into the tenant's base currency")] = False,
) -> Forecast:
    if period_to < period_from:
        raise ValidationFailed(
            "One or more fields are invalid.",
            errors=[{"pointer": "/to", "in": "query", "detail": "before from"}],
        )
    start = datetime.combine(period_from, time.min, UTC)
    end = datetime.combine(period_to + timedelta(days=1), time.min, UTC)
    o = Opportunity
    key: Any = {"owner": o.owner_id, "team": o.team_id, "stage": o.stage_id}[group_by]
    is_open = and_(
        o.status == "open",
        o.expected_close_date >= period_from,
        o.expected_close_date <= period_to,
    )
    closed = and_(o.closed_at >= start, o.closed_at < end)
    won = and_(o.status == "won", closed)
    lost = and_(o.status == "lost", closed)
    query = (
        select(
            key.label("g"),
            o.currency,
            func.count().filter(is_open).label("open_count"),
            func.coalesce(func.sum(o.amount).filter(is_open), 0).label("open_amount"),
            func.coalesce(func.sum(o.amount * o.probability / 100).filter(is_open), 0).label(
                "weighted"
            ),
            func.count().filter(won).label("won_count"),
            func.count().filter(lost).label("lost_count"),
            func.coalesce(func.sum(o.amount).filter(won), 0).label("won_amount"),
            func.sum(func.extract("epoch", o.closed_at - o.created_at) / 86400)
            .filter(won)
            .label("won_days"),
        )
        .where(o.deleted_at.is_(None), or_(is_open, closed))
        .group_by(key, o.currency)
        .order_by(key, o.currency)
    )
    async with uow:
        vis = await visibility(uow, principal)
        rows = (await uow.session.execute(query.where(vis.clause(o.owner_id, o.team_id)))).all()
        base, rates = (
            rates_of(await uow.session.scalar(select(SalesSettings)))
            if convert
            else (
                None,
                {},
            )
        )
    if convert:
        if base is None:
            raise Unprocessable("No exchange rates are configured; PUT /v1/exchange-rates first.")
        missing = sorted({r.currency for r in rows} - set(rates))
        if missing:
            raise Unprocessable(
                f"No exchange rate into {base} for: {', '.join(missing)}.",
                extra={"missing_currencies": missing},
            )
    totals: dict[tuple[str | None, str], dict[str, Decimal]] = {}
    for r in rows:
        group = str(r.g) if r.g is not None else None
        currency, rate = (base, rates[r.currency]) if convert and base else (r.currency, Decimal(1))
        acc = totals.setdefault((group, currency), defaultdict(Decimal))
        acc["open_count"] += r.open_count
        acc["open"] += Decimal(r.open_amount) * rate
        acc["weighted"] += Decimal(r.weighted) * rate
        acc["won_count"] += r.won_count
        acc["lost_count"] += r.lost_count
        acc["won"] += Decimal(r.won_amount) * rate
        acc["won_days"] += Decimal(r.won_days or 0)
    result = []
    for (group, currency), acc in totals.items():
        won_count, decided = int(acc["won_count"]), int(acc["won_count"] + acc["lost_count"])
        result.append(
            ForecastRow(
                group=group,
                currency=currency,
                open_count=int(acc["open_count"]),
                open_pipeline=cents(acc["open"]),
                weighted_pipeline=cents(acc["weighted"]),
                won_count=won_count,
                lost_count=int(acc["lost_count"]),
                closed_won=cents(acc["won"]),
                hit_rate=cents(Decimal(won_count) * 100 / decided) if decided else None,
                avg_days_to_close=cents(acc["won_days"] / won_count) if won_count else None,
            )
        )
    return Forecast(period_from=period_from, period_to=period_to, group_by=group_by, rows=result)
