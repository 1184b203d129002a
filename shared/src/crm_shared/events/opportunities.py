"""crm.opportunities.v1: leads, deals, quotes (produced by opportunities).

Event models are added here by the service's own work; the topic exists from the start.
"""

from __future__ import annotations

from crm_shared.events.envelope import EventData

EVENTS: list[type[EventData]] = []
