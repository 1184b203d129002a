"""What contacts consumes: unsubscribes recorded elsewhere become consent-ledger withdrawals."""

from __future__ import annotations

import uuid

from crm_contacts.consents.schemas import ConsentCreate
from crm_contacts.consents.service import already_recorded, record_consent
from crm_shared.consumer import Handler, Subscription
from crm_shared.errors import NotFound
from crm_shared.events.catalog import CampaignConsentWithdrawn
from crm_shared.events.envelope import InboundEvent
from crm_shared.uow import UnitOfWork


async def apply_consent_withdrawn(uow: UnitOfWork, event: InboundEvent) -> None:
    if await already_recorded(uow, event.id):
        return  # replayed under another consumer group (e.g. after a group reset)
    withdrawal = CampaignConsentWithdrawn.model_validate(event.data)
    data = ConsentCreate(
        channel=withdrawal.channel,
        purpose=withdrawal.purpose,
        status="withdrawn",
        source=f"campaigns:{withdrawal.source}"[:100],
        evidence=f"event {event.id}",
        captured_at=withdrawal.captured_at,
    )
    try:
        await record_consent(uow, uuid.UUID(withdrawal.contact_id), data, source_event_id=event.id)
    except NotFound:
        return  # a person this service never had (or another tenant's): nothing to withdraw


HANDLERS: dict[tuple[str, str], Handler] = {
    (CampaignConsentWithdrawn.topic, CampaignConsentWithdrawn.type): apply_consent_withdrawn,
}
SUBSCRIPTION = Subscription(handlers=HANDLERS)
