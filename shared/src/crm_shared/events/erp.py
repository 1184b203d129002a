"""erp.orders.v1: orders, invoices, contracts (produced by the ERP, outside the system).

Event models are added here by the service's own work; the topic exists from the start.
"""

from __future__ import annotations

from crm_shared.events.envelope import EventData

EVENTS: list[type[EventData]] = []
