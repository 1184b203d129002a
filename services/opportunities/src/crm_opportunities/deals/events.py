"""The parts of a deal every crm.opportunities.v1 deal event carries, and the update event."""

from __future__ import annotations

from typing import Any

from crm_opportunities.deals.models import Opportunity
from crm_shared.events.opportunities import OpportunityUpdated
from crm_shared.uow import UnitOfWork


def ids_of(uow: UnitOfWork, opp: Opportunity) -> dict[str, Any]:
    return {
        "tenant_id": uow.tenant_id,
        "contact_id": str(opp.person_id),
        "opportunity_id": str(opp.id),
        "company_id": str(opp.company_id) if opp.company_id else None,
        "owner_id": opp.owner_id,
        "pipeline_id": str(opp.pipeline_id),
        "amount": opp.amount,
        "currency": opp.currency,
    }


def publish_updated(uow: UnitOfWork, opp: Opportunity, changed: list[str]) -> None:
    uow.publish(
        OpportunityUpdated(
            **ids_of(uow, opp),
            name=opp.name,
            stage_id=str(opp.stage_id),
            probability=opp.probability,
            expected_close_date=opp.expected_close_date,
            changed=changed,
        )
    )
