"""Building catalog events as the consumer sees them, and feeding them to the handlers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_analytics.handlers import SUBSCRIPTION
from crm_analytics.projections.batch import write_buffered
from crm_shared.events import campaigns as cmp
from crm_shared.events import contacts as ct
from crm_shared.events import erp
from crm_shared.events import opportunities as opp
from crm_shared.events import tickets as tk
from crm_shared.events.common import SourceRef
from crm_shared.events.envelope import EventData, InboundEvent
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from tests import helpers

SOURCES = {
    "crm.contacts.v1": "/crm/contacts",
    "crm.opportunities.v1": "/crm/opportunities",
    "crm.campaigns.v1": "/crm/campaigns",
    "crm.tickets.v1": "/crm/tickets",
    "erp.orders.v1": "/erp",
}


def inbound(
    data: EventData, *, at: datetime | None = None, event_id: str | None = None
) -> InboundEvent:
    return helpers.inbound(data, event_id=event_id, at=at, source=SOURCES.get(data.topic, "/test"))


class Feed:
    """Applies events to the analytics handlers in one unit of work, as one consumer batch."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: ServiceSettings,
        tenant: str,
    ) -> None:
        self.sessionmaker, self.settings, self.tenant = sessionmaker, settings, tenant

    async def __call__(self, *events: EventData | InboundEvent, **_: Any) -> None:
        async with UnitOfWork(
            self.sessionmaker, tenant_id=self.tenant, actor=None, source=self.settings.source
        ) as uow:
            for item in events:
                event = item if isinstance(item, InboundEvent) else inbound(item)
                await SUBSCRIPTION.handlers[(event.topic, event.type)](uow, event)
            await write_buffered(uow)


def new_id() -> str:
    return str(uuid.uuid4())


# --- factories with sensible defaults ---------------------------------------------------------


def person(
    tenant: str,
    contact_id: str,
    *,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    email: str | None = "ada@example.com",
    company_ids: list[str] | None = None,
    version: int = 1,
) -> ct.ContactCreated:
    snapshot = ct.ContactSnapshot(
        contact_id=contact_id,
        first_name=first_name,
        last_name=last_name,
        primary_email=email,
        emails=[email] if email else [],
        phones=[],
        job_title=None,
        language="en",
        timezone=None,
        country="GB",
        lifecycle_stage="customer",
        source=None,
        tags=[],
        attributes={},
        owner_id="rep-1",
        relationship_level=None,
        preferred_channel=None,
        do_not_contact=False,
        company_ids=company_ids or [],
        version=version,
        updated_at=datetime.now(UTC),
    )
    return ct.ContactCreated(tenant_id=tenant, contact_id=contact_id, contact=snapshot)


def company(
    tenant: str, company_id: str, name: str, parent_id: str | None = None
) -> ct.CompanyCreated:
    snapshot = ct.CompanySnapshot(
        company_id=company_id,
        name=name,
        domain=None,
        industry=None,
        employee_count=None,
        country=None,
        parent_id=parent_id,
        owner_id=None,
        relationship_level=None,
        tags=[],
        version=1,
        updated_at=datetime.now(UTC),
    )
    return ct.CompanyCreated(tenant_id=tenant, company_id=company_id, company=snapshot)


def interaction(
    tenant: str,
    contact_id: str,
    at: datetime,
    *,
    channel: str = "phone",
    kind: str = "call",
    summary: str | None = "Discussed renewal",
    direction: str = "outbound",
    company_id: str | None = None,
    service: str = "contacts",
) -> ct.InteractionLogged:
    interaction_id = new_id()
    return ct.InteractionLogged.model_validate(
        {
            "tenant_id": tenant,
            "contact_id": contact_id,
            "interaction_id": interaction_id,
            "company_id": company_id,
            "channel": channel,
            "direction": direction,
            "kind": kind,
            "occurred_at": at,
            "summary": summary,
            "actor_id": "rep-1",
            "source": SourceRef(service=service, entity="interaction", id=interaction_id),
        }
    )


def order(
    tenant: str,
    contact_id: str,
    at: datetime,
    total: str,
    *,
    order_id: str | None = None,
    company_id: str | None = None,
    skus: list[str] | None = None,
) -> erp.OrderPlaced:
    return erp.OrderPlaced.model_validate(
        {
            "tenant_id": tenant,
            "contact_id": contact_id,
            "company_id": company_id,
            "order_id": order_id or new_id(),
            "placed_at": at,
            "total": total,
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": "1", "unit_price": "1"} for sku in skus or []],
        }
    )


def survey(
    tenant: str,
    contact_id: str,
    at: datetime,
    *,
    nps: int | None = None,
    satisfaction: int | None = None,
    intent: str | None = None,
) -> cmp.SurveyAnswered:
    return cmp.SurveyAnswered.model_validate(
        {
            "tenant_id": tenant,
            "contact_id": contact_id,
            "survey_id": "s-1",
            "response_id": new_id(),
            "answered_at": at,
            "nps_score": nps,
            "satisfaction": satisfaction,
            "repurchase_intent": intent,
        }
    )


def contract_end(
    tenant: str, contact_id: str, ended_on: Any, *, renewed: bool = False
) -> erp.ContractEnded:
    return erp.ContractEnded.model_validate(
        {
            "tenant_id": tenant,
            "contact_id": contact_id,
            "contract_id": new_id(),
            "ended_on": ended_on,
            "renewed": renewed,
        }
    )


def contract_renewed(tenant: str, contact_id: str, new_start: Any) -> erp.ContractRenewed:
    return erp.ContractRenewed.model_validate(
        {
            "tenant_id": tenant,
            "contact_id": contact_id,
            "contract_id": new_id(),
            "starts_on": new_start,
        }
    )


def deal(tenant: str, contact_id: str, opportunity_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "contact_id": contact_id,
        "opportunity_id": opportunity_id,
        "pipeline_id": "p-1",
        "amount": "1000",
        "currency": "EUR",
    } | fields


__all__ = ["Feed", "cmp", "ct", "erp", "inbound", "opp", "tk"]
