"""The analytics service's own settings (`ANALYTICS_*`), next to the chassis' ones."""

from __future__ import annotations

from crm_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    scores_interval_s: float = 60.0  # how often the score scheduler looks for tenants due
