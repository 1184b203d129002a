"""The tickets service's own settings (`TICKETS_*`), next to the chassis' ones."""

from __future__ import annotations

from crm_shared.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    sla_scan_interval_s: float = 5.0  # how often the SLA scheduler looks for due timers
