"""Names and vocabularies every topic module shares."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

CONTACTS = "crm.contacts.v1"
OPPORTUNITIES = "crm.opportunities.v1"
CAMPAIGNS = "crm.campaigns.v1"
TICKETS = "crm.tickets.v1"
ANALYTICS = "crm.analytics.v1"
ERP_ORDERS = "erp.orders.v1"

# Topic -> the service that produces it (the ERP is outside the system).
TOPIC_PRODUCERS: dict[str, str] = {
    CONTACTS: "contacts",
    OPPORTUNITIES: "opportunities",
    CAMPAIGNS: "campaigns",
    TICKETS: "tickets",
    ANALYTICS: "analytics",
    ERP_ORDERS: "erp",
}
TOPICS: list[str] = list(TOPIC_PRODUCERS)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


Channel = Literal["email", "phone", "sms", "chat", "web", "social", "in_person", "letter", "other"]
ConsentChannel = Literal["email", "sms", "phone", "post", "web", "social", "in_person"]
ConsentPurpose = Literal["marketing", "service", "profiling"]
Direction = Literal["inbound", "outbound", "internal"]


class SourceRef(BaseModel):
    """Where a timeline entry came from: service, entity and id."""

    service: str
    entity: str
    id: str
