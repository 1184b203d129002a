"""The measures, as pure functions over plain data, exactly as docs/domain.md defines them.

Rates are percentages (0-100) rounded to 2 decimals, or None when the denominator is zero.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


def percent(numerator: int | float | Decimal, denominator: int | float | Decimal) -> float | None:
    if not denominator:
        return None
    return round(float(numerator) / float(denominator) * 100, 2)


def retention_rate(
    previous_buyers: set[str], current_buyers: set[str]
) -> tuple[int, int, float | None]:
    """W = Kt / K(t-1) x 100%: Kt = customers of period t-1 who bought again in period t."""
    kt = len(previous_buyers & current_buyers)
    return kt, len(previous_buyers), percent(kt, len(previous_buyers))


def churn_rate(left: set[str], base: set[str]) -> tuple[int, int, float | None]:
    """W = Kz / K x 100% (static: K all customers) or Kz / Ku x 100% (dynamic: Ku customers
    whose contract ended in the period). `left` is counted within `base`."""
    kz = len(left & base)
    return kz, len(base), percent(kz, len(base))


def loyalty_indexes(
    intents: Mapping[str, str | None],
) -> tuple[int, int, int, float | None, float | None]:
    """Over the customers surveyed (their latest answer): Kb unconditional, Kw conditional will
    to buy again. WLK = (Kb + Kw) / K x 100%, WWLK = Kb / K x 100%."""
    answered = {c: i for c, i in intents.items() if i is not None}
    k = len(answered)
    kb = sum(1 for i in answered.values() if i == "unconditional")
    kw = sum(1 for i in answered.values() if i == "conditional")
    return k, kb, kw, percent(kb + kw, k), percent(kb, k)


def net_promoter_score(scores: Iterable[int]) -> tuple[int, int, int, float | None]:
    """NPS = % promoters (9-10) - % detractors (0-6), over the respondents."""
    values = list(scores)
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    if not values:
        return 0, 0, 0, None
    return (
        len(values),
        promoters,
        detractors,
        round((promoters - detractors) / len(values) * 100, 2),
    )


def quintile_scores(
    values: Mapping[str, float], *, higher_is_better: bool = True
) -> dict[str, int]:
    """Score 1-5 by rank: score = 1 + floor(5 * w / n), w = customers strictly worse, n = all.
    Ties share a score; the best fifth gets 5."""
    sign = 1.0 if higher_is_better else -1.0
    ordered = sorted(sign * v for v in values.values())
    n = len(ordered)
    return {
        customer: 1 + math.floor(5 * bisect.bisect_left(ordered, sign * value) / n)
        for customer, value in values.items()
    }


# (segment, rule) in evaluation order; the first rule that matches names the segment.
RFM_SEGMENT_RULES: list[tuple[str, str]] = [
    ("champions", "R >= 4 and F >= 4 and M >= 4"),
    ("loyal", "R >= 3 and F >= 4"),
    ("potential_loyalists", "R >= 4 and F in 2..3"),
    ("new_customers", "R >= 4 and F = 1"),
    ("at_risk", "R <= 2 and F >= 3"),
    ("hibernating", "R = 2 and F <= 2"),
    ("lost", "R = 1 and F <= 2"),
    ("need_attention", "otherwise (R = 3 and F <= 3)"),
]


def rfm_segment(r: int, f: int, m: int) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if r >= 4 and f in (2, 3):
        return "potential_loyalists"
    if r >= 4 and f == 1:
        return "new_customers"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r == 2:
        return "hibernating"
    if r == 1:
        return "lost"
    return "need_attention"


VALUE_TIER_RULES = (
    "unprofitable: monetary value <= 0; key: M score 5 (the top fifth by revenue); "
    "standard: M score 3-4; low: M score 1-2"
)


def value_tier(m_score: int, monetary: Decimal) -> str:
    if monetary <= 0:
        return "unprofitable"
    if m_score == 5:
        return "key"
    if m_score >= 3:
        return "standard"
    return "low"


@dataclass(frozen=True)
class Pareto:
    customers: int
    top_customers: int
    top_revenue: Decimal
    total_revenue: Decimal
    share: float | None


def pareto_concentration(revenues: Iterable[Decimal], top_fraction: float = 0.2) -> Pareto:
    """Share of revenue from the top ceil(20% x n) customers by revenue in the period."""
    ordered = sorted((r for r in revenues if r > 0), reverse=True)
    n = len(ordered)
    top = math.ceil(top_fraction * n) if n else 0
    top_revenue = sum(ordered[:top], Decimal(0))
    total = sum(ordered, Decimal(0))
    return Pareto(n, top, top_revenue, total, percent(top_revenue, total))


LOYALTY_TYPES = {
    (True, True): "loyalists",
    (True, False): "mercenaries",
    (False, True): "hostages",
    (False, False): "defectors",
}


def loyalty_type(satisfaction: float, repeat_purchases: int) -> str:
    """Jones & Sasser: satisfied = mean satisfaction (CSAT and survey, 1-5) >= 4;
    loyal = 2 or more purchases."""
    return LOYALTY_TYPES[(satisfaction >= 4, repeat_purchases >= 2)]


def summary(values: list[float]) -> tuple[float | None, float | None]:
    """(mean, median), rounded to 2 decimals."""
    if not values:
        return None, None
    return round(statistics.fmean(values), 2), round(statistics.median(values), 2)


# --- campaigns --------------------------------------------------------------------------------

RESPONSE_KINDS = frozenset({"responded", "clicked"})
NON_ATTRIBUTABLE_KINDS = frozenset({"bounced", "unsubscribed"})


@dataclass(frozen=True)
class Touch:
    campaign_id: str
    contact_id: str
    kind: str
    at: datetime


@dataclass(frozen=True)
class Sale:
    contact_id: str
    at: datetime
    amount: Decimal


@dataclass
class Credit:
    first_touch: Decimal = Decimal(0)
    last_touch: Decimal = Decimal(0)
    linear: Decimal = Decimal(0)


def attribute(
    sales: Iterable[Sale], touches: Iterable[Touch], window: timedelta
) -> tuple[dict[str, Credit], Decimal]:
    """Each sale's amount is credited to the campaigns whose touches (any kind but bounced or
    unsubscribed) reached the customer in the `window` before it: all to the earliest touch
    (first touch), all to the latest (last touch), or split equally over the touches (linear).
    Returns the credit per campaign and the revenue no touch explains."""
    by_contact: dict[str, list[Touch]] = defaultdict(list)
    for t in touches:
        if t.kind not in NON_ATTRIBUTABLE_KINDS:
            by_contact[t.contact_id].append(t)
    for items in by_contact.values():
        items.sort(key=lambda t: (t.at, t.campaign_id))
    credit: dict[str, Credit] = defaultdict(Credit)
    unattributed = Decimal(0)
    for sale in sales:
        eligible = [
            t for t in by_contact.get(sale.contact_id, []) if sale.at - window <= t.at <= sale.at
        ]
        if not eligible:
            unattributed += sale.amount
            continue
        credit[eligible[0].campaign_id].first_touch += sale.amount
        credit[eligible[-1].campaign_id].last_touch += sale.amount
        share = sale.amount / len(eligible)
        for t in eligible:
            credit[t.campaign_id].linear += share
    return dict(credit), unattributed
