"""What campaigns consumes: contacts' people and consent (its projection for segments),
analytics' segments, and opportunities won with a campaign as their source (attribution).
Every handler is an ordered upsert or an insert-once, so a replay under a new consumer group
leaves the same state."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert

from crm_campaigns.campaigns.models import AttributedWin
from crm_campaigns.projection import service as projection
from crm_shared.consumer import Handler, Subscription
from crm_shared.events.analytics import CustomerSegmentChanged
from crm_shared.events.catalog import (
    ConsentCorrected,
    ConsentGranted,
    ConsentWithdrawn,
    ContactCreated,
    ContactDeleted,
    ContactErased,
    ContactMerged,
    ContactUpdated,
)
from crm_shared.events.contacts import ContactUnmerged
from crm_shared.events.envelope import InboundEvent
from crm_shared.events.opportunities import OpportunityWon
from crm_shared.uow import UnitOfWork


async def on_contact_snapshot(uow: UnitOfWork, event: InboundEvent) -> None:
    model = ContactCreated if event.type == ContactCreated.type else ContactUpdated
    data = model.model_validate(event.data)
    await projection.upsert_snapshot(uow, data.contact)


async def on_contact_deleted(uow: UnitOfWork, event: InboundEvent) -> None:
    data = ContactDeleted.model_validate(event.data)
    await projection.mark_deleted(uow, data.contact_id, event.time)


async def on_contact_merged(uow: UnitOfWork, event: InboundEvent) -> None:
    """The duplicates are gone; the survivor's own update carries the merged data. Nothing
    else moves (a member or touch stays under the id it was sent to)."""
    data = ContactMerged.model_validate(event.data)
    for merged in data.merged_ids:
        if merged == data.contact_id:
            continue
        if data.merge_id is None:  # an older producer's merge: it cannot be undone
            await projection.mark_deleted(uow, merged, event.time)
        else:
            await projection.mark_merged(uow, data.merge_id, merged, event.time)


async def on_contact_unmerged(uow: UnitOfWork, event: InboundEvent) -> None:
    """The restored people are live again (their own contact.updated follows with their data);
    segments, audiences and call lists see them as before the merge."""
    data = ContactUnmerged.model_validate(event.data)
    await projection.restore_merged(uow, data.merge_id, data.restored_ids)


async def on_contact_erased(uow: UnitOfWork, event: InboundEvent) -> None:
    data = ContactErased.model_validate(event.data)
    await projection.erase(uow, data.contact_id, data.erased_at)


async def on_consent(uow: UnitOfWork, event: InboundEvent) -> None:
    granted = event.type == ConsentGranted.type
    data = (ConsentGranted if granted else ConsentWithdrawn).model_validate(event.data)
    await projection.apply_consent(
        uow,
        data.contact_id,
        data.channel,
        data.purpose,
        "granted" if granted else "withdrawn",
        data.captured_at,
    )


async def on_consent_corrected(uow: UnitOfWork, event: InboundEvent) -> None:
    data = ConsentCorrected.model_validate(event.data)
    await projection.correct_consent(
        uow, data.contact_id, data.channel, data.purpose, data.status, data.captured_at
    )


async def on_segment_changed(uow: UnitOfWork, event: InboundEvent) -> None:
    data = CustomerSegmentChanged.model_validate(event.data)
    await projection.apply_segment(
        uow, data.contact_id, data.rfm_segment, data.value_tier, data.computed_at
    )


async def on_opportunity_won(uow: UnitOfWork, event: InboundEvent) -> None:
    data = OpportunityWon.model_validate(event.data)
    if not data.source_campaign_id:
        return
    try:
        campaign_id = uuid.UUID(data.source_campaign_id)
    except ValueError:
        return  # not one of ours
    await uow.session.execute(
        insert(AttributedWin)
        .values(
            tenant_id=uow.tenant_id,
            opportunity_id=data.opportunity_id,
            campaign_id=campaign_id,
            contact_id=data.contact_id,
            amount=data.amount,
            currency=data.currency,
            won_at=data.won_at,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "opportunity_id"])
    )


HANDLERS: dict[tuple[str, str], Handler] = {
    (ContactCreated.topic, ContactCreated.type): on_contact_snapshot,
    (ContactUpdated.topic, ContactUpdated.type): on_contact_snapshot,
    (ContactDeleted.topic, ContactDeleted.type): on_contact_deleted,
    (ContactErased.topic, ContactErased.type): on_contact_erased,
    (ContactMerged.topic, ContactMerged.type): on_contact_merged,
    (ContactUnmerged.topic, ContactUnmerged.type): on_contact_unmerged,
    (ConsentGranted.topic, ConsentGranted.type): on_consent,
    (ConsentWithdrawn.topic, ConsentWithdrawn.type): on_consent,
    (ConsentCorrected.topic, ConsentCorrected.type): on_consent_corrected,
    (CustomerSegmentChanged.topic, CustomerSegmentChanged.type): on_segment_changed,
    (OpportunityWon.topic, OpportunityWon.type): on_opportunity_won,
}
SUBSCRIPTION = Subscription(handlers=HANDLERS)
