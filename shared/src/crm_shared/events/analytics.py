"""crm.analytics.v1: segments and risk published back (produced by analytics).

Fields may be added (additively) by the analytics service; none may be renamed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from crm_shared.events.common import ANALYTICS
from crm_shared.events.envelope import EventData

ValueTier = Literal["key", "standard", "low", "unprofitable"]


class CustomerSegmentChanged(EventData):
    type = "crm.customer.segment_changed"
    topic = ANALYTICS
    key_field = "contact_id"
    description = "A customer's RFM segment or value tier changed."
    contact_id: str
    rfm_segment: str | None
    previous_rfm_segment: str | None = None
    value_tier: ValueTier | None
    previous_value_tier: ValueTier | None = None
    computed_at: datetime


class CustomerChurnRiskChanged(EventData):
    type = "crm.customer.churn_risk_changed"
    topic = ANALYTICS
    key_field = "contact_id"
    description = (
        "A customer's churn probability crossed a risk band (a customer scored for the first "
        "time starts from `low`)."
    )
    contact_id: str
    churn_probability: float
    risk_band: Literal["low", "medium", "high"]
    computed_at: datetime


EVENTS: list[type[EventData]] = [CustomerSegmentChanged, CustomerChurnRiskChanged]
