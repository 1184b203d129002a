"""crm.tickets.v1: service tickets, SLA, CSAT (produced by tickets).

Fields may be added (additively) by the tickets service; none may be renamed.
"""

from __future__ import annotations

from datetime import datetime

from crm_shared.events.common import TICKETS, Channel, Direction
from crm_shared.events.contacts import InteractionLogged
from crm_shared.events.envelope import EventData


class _TicketEvent(EventData):
    topic = TICKETS
    key_field = "contact_id"
    contact_id: str
    ticket_id: str


class TicketCreated(_TicketEvent):
    type = "crm.ticket.created"
    description = "A ticket was opened, in any channel."
    subject: str
    channel: Channel
    priority: str
    queue_id: str | None = None
    sla_policy_id: str | None = None


class TicketAssigned(_TicketEvent):
    type = "crm.ticket.assigned"
    description = "A ticket was assigned to an agent."
    assignee_id: str
    queue_id: str | None = None


class TicketStatusChanged(_TicketEvent):
    type = "crm.ticket.status_changed"
    description = "A ticket changed status."
    from_status: str
    to_status: str
    changed_at: datetime


class TicketMessageAdded(_TicketEvent):
    type = "crm.ticket.message_added"
    description = "A public reply or internal note was added."
    message_id: str
    channel: Channel
    direction: Direction
    public: bool
    occurred_at: datetime


class _SlaEvent(_TicketEvent):
    target: str  # first_response | next_response | resolution
    due_at: datetime


class TicketSlaWarning(_SlaEvent):
    type = "crm.ticket.sla_warning"
    description = "An SLA target is close to breach."


class TicketSlaBreached(_SlaEvent):
    type = "crm.ticket.sla_breached"
    description = "An SLA target was breached."


class TicketSolved(_TicketEvent):
    type = "crm.ticket.solved"
    description = "A ticket was solved."
    solved_at: datetime
    first_response_seconds: float | None = None
    resolution_seconds: float | None = None
    # The satisfaction link's signed token (tickets' POST /v1/csat/{token}, no login), for
    # whoever writes to the customer.
    csat_token: str | None = None


class CsatSubmitted(_TicketEvent):
    type = "crm.csat.submitted"
    description = "The customer rated the service (1-5)."
    score: int
    submitted_at: datetime


class TicketEscalated(_TicketEvent):
    type = "crm.ticket.escalated"
    description = "An SLA breach escalated the ticket (priority raised, queue moved): notify."
    target: str
    from_priority: str
    to_priority: str
    from_queue_id: str | None = None
    to_queue_id: str | None = None
    escalated_at: datetime


class TicketMerged(_TicketEvent):
    type = "crm.ticket.merged"
    description = "A duplicate ticket (`ticket_id`) was merged into `into_ticket_id`."
    into_ticket_id: str
    merged_at: datetime


class TicketInteractionLogged(InteractionLogged):
    """A ticket message on the omnichannel timeline (the shape contacts publishes)."""

    topic = TICKETS
    description = "A ticket message (public reply or internal note) as a timeline entry."


EVENTS: list[type[EventData]] = [
    TicketCreated,
    TicketAssigned,
    TicketStatusChanged,
    TicketMessageAdded,
    TicketSlaWarning,
    TicketSlaBreached,
    TicketSolved,
    CsatSubmitted,
    TicketEscalated,
    TicketMerged,
    TicketInteractionLogged,
]
