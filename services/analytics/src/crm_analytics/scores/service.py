"""Per-customer scores (RFM, value tier, historic and predicted CLV, P(alive)), the events that
publish their changes, and GDPR erasure of the person's PII from the read models."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from crm_analytics.clv.model import BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma
from crm_analytics.measures.formulas import quintile_scores, rfm_segment, value_tier
from crm_analytics.projections.batch import forget_people, state, write_buffered
from crm_analytics.projections.models import (
    Contact,
    ContactAlias,
    CustomerScore,
    TimelineEntry,
)
from crm_analytics.projections.service import PRELOAD_LIMIT
from crm_shared.events.analytics import CustomerChurnRiskChanged, CustomerSegmentChanged
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
WEEK_S = 7 * 86400
HORIZON_WEEKS = 52
MIN_CUSTOMERS_FOR_MODEL = 20
FIT_SAMPLE = 20_000


async def scrub_person(uow: UnitOfWork, contact_id: str, erased_at: datetime) -> None:
    """Remove the person's PII (name, email, snapshot, free-text summaries) everywhere in the
    analytics database; ids, amounts and dates stay, so aggregates do not change."""
    await write_buffered(uow)
    forget_people(uow)
    ids = {contact_id}
    aliases = await uow.session.scalars(
        select(ContactAlias.alias_id).where(ContactAlias.contact_id == contact_id)
    )
    ids |= set(aliases)
    merged = await uow.session.scalars(
        select(Contact.contact_id).where(Contact.merged_into == contact_id)
    )
    ids |= set(merged)
    await uow.session.execute(
        insert(Contact)
        .values(tenant_id=uow.tenant_id, contact_id=contact_id, version=0, erased_at=erased_at)
        .on_conflict_do_nothing()
    )
    await uow.session.execute(
        update(Contact)
        .where(Contact.contact_id.in_(ids))
        .values(
            first_name=None, last_name=None, primary_email=None, snapshot=None, erased_at=erased_at
        )
    )
    await uow.session.execute(
        update(TimelineEntry)
        .where(or_(TimelineEntry.contact_id.in_(ids), TimelineEntry.lead_id.in_(ids)))
        .values(summary=None)
    )


async def is_erased(uow: UnitOfWork, contact_id: str) -> bool:
    """Whether the person was erased (the tenant's erasures are loaded once per transaction
    when there are few; otherwise one look-up)."""
    batch = state(uow)
    if uow.tenant_id not in batch.erased:
        rows = list(
            await uow.session.scalars(
                select(Contact.contact_id)
                .where(Contact.erased_at.is_not(None))
                .limit(PRELOAD_LIMIT + 1)
            )
        )
        batch.erased[uow.tenant_id] = set(rows) if len(rows) <= PRELOAD_LIMIT else None
    known = batch.erased[uow.tenant_id]
    if known is not None:
        return contact_id in known
    return (
        await uow.session.scalar(select(Contact.erased_at).where(Contact.contact_id == contact_id))
    ) is not None


@dataclass
class History:
    first: datetime
    last: datetime
    count: int
    total: Decimal
    repeat_total: Decimal  # every order after the first


PURCHASE_HISTORIES = text(
    """
    SELECT contact_id, min(placed_at) AS first, max(placed_at) AS last, count(*) AS count,
           sum(total) AS total,
           sum(total) - (array_agg(total ORDER BY placed_at, order_id))[1] AS repeat_total
    FROM orders
    WHERE cancelled_at IS NULL AND placed_at IS NOT NULL AND total IS NOT NULL
      AND placed_at <= :as_of
    GROUP BY contact_id
    """
)


async def purchase_histories(uow: UnitOfWork, as_of: datetime) -> dict[str, History]:
    """Non-cancelled orders placed up to `as_of`, per customer, aggregated in the database
    (one row per customer instead of one per order). The repeat total leaves out the first
    order by (placed_at, order_id)."""
    rows = await uow.session.execute(PURCHASE_HISTORIES, {"as_of": as_of})
    return {
        contact_id: History(first, last, count, total, repeat_total)
        for contact_id, first, last, count, total, repeat_total in rows
    }


@dataclass
class Score:
    contact_id: str
    recency_days: float
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    segment: str
    tier: str
    predicted_clv: float | None
    p_alive: float | None


@dataclass
class ClvModels:
    bgnbd: BgNbd | None
    gamma_gamma: GammaGamma | None


def compute_scores(
    histories: dict[str, History], as_of: datetime, *, with_clv: bool = True
) -> tuple[list[Score], ClvModels]:
    """RFM scores, segments and tiers; with `with_clv`, also the fitted CLV models and each
    customer's predicted CLV and P(alive)."""
    if not histories:
        return [], ClvModels(None, None)
    ids = list(histories)
    recency = {c: (as_of - h.last).total_seconds() / 86400 for c, h in histories.items()}
    r = quintile_scores(recency, higher_is_better=False)
    f = quintile_scores({c: float(h.count) for c, h in histories.items()})
    m = quintile_scores({c: float(h.total) for c, h in histories.items()})
    x = np.array([histories[c].count - 1 for c in ids], dtype=float)
    t_x = np.array([(histories[c].last - histories[c].first).total_seconds() / WEEK_S for c in ids])
    big_t = np.array([(as_of - histories[c].first).total_seconds() / WEEK_S for c in ids])
    zbar = np.array(
        [float(histories[c].repeat_total) / max(histories[c].count - 1, 1) for c in ids]
    )
    models = fit_models(x, t_x, big_t, zbar) if with_clv else ClvModels(None, None)
    alive = predicted = None
    if models.bgnbd is not None:
        alive = models.bgnbd.p_alive(x, t_x, big_t)
        purchases = models.bgnbd.expected_purchases(HORIZON_WEEKS, x, t_x, big_t)
        if models.gamma_gamma is not None:
            predicted = purchases * models.gamma_gamma.expected_spend(x, zbar)
    scores = []
    for i, c in enumerate(ids):
        h = histories[c]
        scores.append(
            Score(
                contact_id=c,
                recency_days=round(recency[c], 4),
                frequency=h.count,
                monetary=h.total,
                r=r[c],
                f=f[c],
                m=m[c],
                segment=rfm_segment(r[c], f[c], m[c]),
                tier=value_tier(m[c], h.total),
                predicted_clv=_finite(predicted[i]) if predicted is not None else None,
                p_alive=_finite(alive[i]) if alive is not None else None,
            )
        )
    return scores, models


def _finite(value: Any) -> float | None:
    number = float(value)
    return round(number, 4) if np.isfinite(number) else None


def fit_models(x: Any, t_x: Any, big_t: Any, zbar: Any) -> ClvModels:
    """BG/NBD and Gamma-Gamma, when there is enough data for a meaningful fit. Past
    FIT_SAMPLE customers the parameters are estimated on a fixed random sample of that size
    (each likelihood evaluation costs O(customers) and the optimiser needs hundreds); the
    models then score every customer."""
    if len(x) > FIT_SAMPLE:
        picked = np.random.default_rng(0).choice(len(x), FIT_SAMPLE, replace=False)
        x, t_x, big_t, zbar = x[picked], t_x[picked], big_t[picked], zbar[picked]
    bgnbd = gamma_gamma = None
    repeaters = int(np.sum(x > 0))
    if len(x) >= MIN_CUSTOMERS_FOR_MODEL and repeaters >= 2 and np.all(big_t > 0):
        try:
            bgnbd = fit_bgnbd(x, t_x, big_t)
        except (ValueError, FloatingPointError) as exc:  # pragma: no cover - degenerate data
            log.warning("BG/NBD fit failed: %s", exc)
        if bgnbd is not None and not (bgnbd.a > 1 and np.isfinite(bgnbd.log_likelihood)):
            bgnbd = None  # E[Y(t)] needs a > 1
    if repeaters >= MIN_CUSTOMERS_FOR_MODEL // 2:
        try:
            gamma_gamma = fit_gamma_gamma(x, zbar)
        except (ValueError, FloatingPointError) as exc:  # pragma: no cover
            log.warning("Gamma-Gamma fit failed: %s", exc)
        if gamma_gamma is not None and gamma_gamma.q <= 1:
            gamma_gamma = None
    return ClvModels(bgnbd, gamma_gamma)


def risk_band(p_alive: float | None) -> str | None:
    if p_alive is None:
        return None
    churn = 1 - p_alive
    return "low" if churn < 0.3 else "medium" if churn < 0.7 else "high"


async def recompute_scores(uow: UnitOfWork, as_of: datetime) -> dict[str, int]:
    """Recompute every customer's scores; publish `customer.segment_changed` (and
    `customer.churn_risk_changed`) only for the customers whose segment, tier or band changed."""
    scores, _ = compute_scores(await purchase_histories(uow, as_of), as_of)
    stored = {s.contact_id: s for s in (await uow.session.scalars(select(CustomerScore))).all()}
    changed = risk_changed = 0
    rows = []
    for s in scores:
        old = stored.get(s.contact_id)
        old_segment, old_tier = (old.rfm_segment, old.value_tier) if old else (None, None)
        if (old_segment, old_tier) != (s.segment, s.tier):
            changed += 1
            uow.publish(
                CustomerSegmentChanged(
                    tenant_id=uow.tenant_id,
                    contact_id=s.contact_id,
                    rfm_segment=s.segment,
                    previous_rfm_segment=old_segment,
                    value_tier=s.tier,
                    previous_value_tier=old_tier,
                    computed_at=as_of,
                )
            )
        band = risk_band(s.p_alive)
        if band is not None and band != risk_band(old.p_alive if old else None):
            risk_changed += 1
            uow.publish(
                CustomerChurnRiskChanged(
                    tenant_id=uow.tenant_id,
                    contact_id=s.contact_id,
                    churn_probability=round(1 - (s.p_alive or 0), 4),
                    risk_band=band,
                    computed_at=as_of,
                )
            )
        rows.append(
            {
                "tenant_id": uow.tenant_id,
                "contact_id": s.contact_id,
                "recency_days": s.recency_days,
                "frequency": s.frequency,
                "monetary": s.monetary,
                "r_score": s.r,
                "f_score": s.f,
                "m_score": s.m,
                "rfm_segment": s.segment,
                "value_tier": s.tier,
                "historic_clv": s.monetary,
                "predicted_clv": s.predicted_clv,
                "p_alive": s.p_alive,
                "computed_at": as_of,
            }
        )
    for start in range(0, len(rows), 1000):
        stmt = insert(CustomerScore).values(rows[start : start + 1000])
        keys = ["tenant_id", "contact_id"]
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=keys,
                set_={k: stmt.excluded[k] for k in rows[0] if k not in keys},
            )
        )
    return {"customers": len(scores), "segment_changes": changed, "risk_changes": risk_changed}
