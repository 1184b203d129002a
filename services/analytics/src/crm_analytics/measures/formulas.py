"""The measures' formulas, exactly as docs/domain.md defines them: the constants the counting
queries use, and pure functions over plain data or numpy columns (one entry per customer).

Rates are percentages (0-100) rounded to 2 decimals, or None when the denominator is zero.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]


def percent(numerator: int | float | Decimal, denominator: int | float | Decimal) -> float | None:
    if not denominator:
        return None
    return round(float(numerator) / float(denominator) * 100, 2)


PROMOTER_FROM = 9  # NPS promoters score 9-10
DETRACTOR_UP_TO = 6  # detractors 0-6


def net_promoter_score(respondents: int, promoters: int, detractors: int) -> float | None:
    """NPS = % promoters - % detractors, over the respondents."""
    if not respondents:
        return None
    return round((promoters - detractors) / respondents * 100, 2)


def quintile_scores(values: Array, *, higher_is_better: bool = True) -> IntArray:
    """Score 1-5 by rank: score = 1 + floor(5 * w / n), w = customers strictly worse, n = all.
    Ties share a score; the best fifth gets 5. Vectorised: one sort, one binary search each."""
    signed = np.asarray(values, dtype=float) * (1.0 if higher_is_better else -1.0)
    worse = np.searchsorted(np.sort(signed), signed, side="left")
    return np.asarray(1 + (5 * worse) // max(len(signed), 1), dtype=np.int64)


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


SEGMENTS = [name for name, _ in RFM_SEGMENT_RULES]


def rfm_segments(r: IntArray, f: IntArray, m: IntArray) -> IntArray:
    """Each customer's segment, as its position in SEGMENTS: the first rule that matches."""
    return np.select(
        [
            (r >= 4) & (f >= 4) & (m >= 4),
            (r >= 3) & (f >= 4),
            (r >= 4) & ((f == 2) | (f == 3)),
            (r >= 4) & (f == 1),
            (r <= 2) & (f >= 3),
            r == 2,
            r == 1,
        ],
        range(len(SEGMENTS) - 1),
        default=len(SEGMENTS) - 1,
    )


VALUE_TIER_RULES = (
    "unprofitable: monetary value <= 0; key: M score 5 (the top fifth by revenue); "
    "standard: M score 3-4; low: M score 1-2"
)


VALUE_TIERS = ["unprofitable", "key", "standard", "low"]


def value_tiers(m: IntArray, monetary: Array) -> IntArray:
    """Each customer's tier, as its position in VALUE_TIERS."""
    return np.select([np.asarray(monetary) <= 0, m == 5, m >= 3], [0, 1, 2], default=3)


PARETO_TOP = 0.2  # the share of customers whose revenue the Pareto concentration reports


LOYALTY_TYPES = {
    (True, True): "loyalists",
    (True, False): "mercenaries",
    (False, True): "hostages",
    (False, False): "defectors",
}


SATISFIED_AT = 4  # mean satisfaction (CSAT and survey, 1-5)
LOYAL_AT = 2  # purchases


def loyalty_type(satisfaction: float, repeat_purchases: int) -> str:
    """Jones & Sasser: satisfied = mean satisfaction >= SATISFIED_AT; loyal = LOYAL_AT or more
    purchases."""
    return LOYALTY_TYPES[(satisfaction >= SATISFIED_AT, repeat_purchases >= LOYAL_AT)]


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
