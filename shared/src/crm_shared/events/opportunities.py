"""crm.opportunities.v1: leads, deals, quotes (produced by opportunities).

Keyed by the customer (contact) id once known; a lead not yet converted is keyed by its lead id
(`lead.converted` carries both, so consumers can re-link the lead's history to the person).
Fields may be added (additively) by the opportunities service; none may be renamed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from crm_shared.events.common import OPPORTUNITIES
from crm_shared.events.contacts import InteractionLogged
from crm_shared.events.envelope import EventData


class Attribution(BaseModel):
    source: str | None = None
    campaign_id: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None


class _LeadEvent(EventData):
    topic = OPPORTUNITIES
    key_field = "lead_id"
    lead_id: str


class _LeadDetails(_LeadEvent):
    email: str | None = None
    company_name: str | None = None
    country: str | None = None
    attribution: Attribution = Attribution()
    possible_duplicate_of: str | None = None


class LeadCreated(_LeadDetails):
    type = "crm.lead.created"
    description = "A lead arrived (API or web-to-lead form)."


class LeadUpdated(_LeadDetails):
    type = "crm.lead.updated"
    description = "A lead's details were edited; `changed` names the fields."
    changed: list[str]


class LeadAssigned(_LeadEvent):
    type = "crm.lead.assigned"
    description = "A lead was routed or reassigned to a user."
    owner_id: str
    team_id: str | None = None
    rule_id: str | None = None
    reason: str


class LeadConverted(_LeadEvent):
    type = "crm.lead.converted"
    description = "A lead became a person (and company) in contacts, and an opportunity."
    contact_id: str
    company_id: str | None = None
    opportunity_id: str | None = None


class LeadDisqualified(_LeadEvent):
    type = "crm.lead.disqualified"
    description = "A lead was disqualified, with a reason."
    reason: str


class _OpportunityEvent(EventData):
    topic = OPPORTUNITIES
    key_field = "contact_id"
    contact_id: str
    opportunity_id: str
    company_id: str | None = None
    owner_id: str | None = None
    pipeline_id: str
    amount: Decimal | None = None
    currency: str | None = None


class OpportunityCreated(_OpportunityEvent):
    type = "crm.opportunity.created"
    description = "A deal was opened."
    name: str
    stage_id: str
    source_campaign_id: str | None = None
    expected_close_date: date | None = None


class OpportunityStageChanged(_OpportunityEvent):
    type = "crm.opportunity.stage_changed"
    description = "A deal moved between pipeline stages."
    from_stage_id: str | None
    to_stage_id: str
    changed_at: datetime
    changed_by: str | None = None


class OpportunityUpdated(_OpportunityEvent):
    """Fields other than the stage changed (owner, amount, currency, dates, probability...)."""

    type = "crm.opportunity.updated"
    description = "A deal's details changed; `changed` names the fields."
    name: str
    stage_id: str
    probability: Decimal
    expected_close_date: date | None = None
    changed: list[str]


class OpportunityWon(_OpportunityEvent):
    type = "crm.opportunity.won"
    description = "A deal was closed won."
    won_at: datetime
    source_campaign_id: str | None = None
    reason: str | None = None


class OpportunityLost(_OpportunityEvent):
    type = "crm.opportunity.lost"
    description = "A deal was closed lost."
    lost_at: datetime
    reason: str | None = None


class _QuoteEvent(EventData):
    topic = OPPORTUNITIES
    key_field = "contact_id"
    contact_id: str
    quote_id: str
    opportunity_id: str
    total: Decimal
    currency: str


class QuoteSent(_QuoteEvent):
    type = "crm.quote.sent"
    description = "A quote was sent to the customer."


class QuoteAccepted(_QuoteEvent):
    type = "crm.quote.accepted"
    description = "The customer accepted a quote."


class SalesInteractionLogged(InteractionLogged):
    """A completed sales call or meeting on the omnichannel timeline (the shape contacts
    publishes); `source` names the activity."""

    topic = OPPORTUNITIES
    description = "A completed sales call or meeting, as a timeline entry."
    opportunity_id: str | None = None


EVENTS: list[type[EventData]] = [
    LeadCreated,
    LeadUpdated,
    LeadAssigned,
    LeadConverted,
    LeadDisqualified,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
    OpportunityLost,
    QuoteSent,
    QuoteAccepted,
    SalesInteractionLogged,
]
