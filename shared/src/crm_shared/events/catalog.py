"""The event catalog as pydantic models: what each topic carries, field by field.

One module per topic (`contacts`, `opportunities`, `campaigns`, `tickets`, `analytics`, `erp`),
each owned by its producer. Types are `crm.<entity>.<past-tense verb>`; the key is the customer
(contact) id when the event concerns a customer. Evolution is additive only; a breaking change
gets a new type name. The AsyncAPI document and the Kubernetes topic/ACL manifests derive from
this module.
"""

from __future__ import annotations

from crm_shared.events import analytics, campaigns, contacts, erp, opportunities, tickets
from crm_shared.events.campaigns import CampaignConsentWithdrawn
from crm_shared.events.common import (
    ANALYTICS,
    CAMPAIGNS,
    CONTACTS,
    ERP_ORDERS,
    OPPORTUNITIES,
    TICKETS,
    TOPIC_PRODUCERS,
    TOPICS,
    Channel,
    ConsentChannel,
    ConsentPurpose,
    Direction,
    SourceRef,
    dlq_topic,
)
from crm_shared.events.contacts import (
    CompanyCreated,
    CompanyDeleted,
    CompanyOwnerChanged,
    CompanySnapshot,
    CompanyUpdated,
    ConsentCorrected,
    ConsentGranted,
    ConsentWithdrawn,
    ContactCreated,
    ContactDeleted,
    ContactErased,
    ContactMerged,
    ContactOwnerChanged,
    ContactRoleAdded,
    ContactRoleRemoved,
    ContactRoleUpdated,
    ContactSnapshot,
    ContactUpdated,
    InteractionLogged,
)
from crm_shared.events.envelope import EventData

CATALOG: list[type[EventData]] = [
    *contacts.EVENTS,
    *opportunities.EVENTS,
    *campaigns.EVENTS,
    *tickets.EVENTS,
    *analytics.EVENTS,
    *erp.EVENTS,
]


def events_on(topic: str) -> list[type[EventData]]:
    return [cls for cls in CATALOG if cls.topic == topic]


def produced_topics(service: str) -> tuple[str, ...]:
    return tuple(t for t, producer in TOPIC_PRODUCERS.items() if producer == service)


__all__ = [
    "ANALYTICS",
    "CAMPAIGNS",
    "CATALOG",
    "CONTACTS",
    "ERP_ORDERS",
    "OPPORTUNITIES",
    "TICKETS",
    "TOPICS",
    "TOPIC_PRODUCERS",
    "CampaignConsentWithdrawn",
    "Channel",
    "CompanyCreated",
    "CompanyDeleted",
    "CompanyOwnerChanged",
    "CompanySnapshot",
    "CompanyUpdated",
    "ConsentChannel",
    "ConsentCorrected",
    "ConsentGranted",
    "ConsentPurpose",
    "ConsentWithdrawn",
    "ContactCreated",
    "ContactDeleted",
    "ContactErased",
    "ContactMerged",
    "ContactOwnerChanged",
    "ContactRoleAdded",
    "ContactRoleRemoved",
    "ContactRoleUpdated",
    "ContactSnapshot",
    "ContactUpdated",
    "Direction",
    "EventData",
    "InteractionLogged",
    "SourceRef",
    "dlq_topic",
    "events_on",
    "produced_topics",
]
