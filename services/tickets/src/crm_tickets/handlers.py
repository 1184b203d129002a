"""What tickets consumes: contacts (matching projection, erasure, merges and their undo),
analytics' value tiers (SLA), and ERP orders (assets under warranty). Every handler is safe to
replay.

contact.merged repoints tickets, assets and SLA timers from the merged ids to the survivor,
remembering which tickets and assets it moved (merge_repoints) when the merge can be undone;
contact.unmerged moves exactly those back, and the timers follow their tickets. The losers'
matching rows and value tiers are dropped, not restored: contacts' contact.updated and
analytics' next customer.segment_changed for the restored people bring them back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import InstrumentedAttribute

from crm_shared import merge_repoints
from crm_shared.consumer import Handler, Subscription
from crm_shared.events.analytics import CustomerSegmentChanged
from crm_shared.events.contacts import (
    ContactCreated,
    ContactDeleted,
    ContactErased,
    ContactMerged,
    ContactUnmerged,
    ContactUpdated,
)
from crm_shared.events.envelope import InboundEvent
from crm_shared.events.erp import OrderPlaced
from crm_shared.uow import UnitOfWork
from crm_tickets.directory.models import Asset, CustomerTier, KnownContact, MergeRepoint
from crm_tickets.directory.service import forget_contact, remember_contact, value_tier
from crm_tickets.queues.service import ACTIVE
from crm_tickets.sla.models import SlaTimer
from crm_tickets.sla.service import apply_policy
from crm_tickets.tickets.models import Csat, Message, Ticket

ERASED = "[erased]"


async def apply_contact_snapshot(uow: UnitOfWork, event: InboundEvent) -> None:
    model = ContactCreated if event.type == ContactCreated.type else ContactUpdated
    snapshot = model.model_validate(event.data).contact
    await remember_contact(
        uow,
        uuid.UUID(snapshot.contact_id),
        snapshot.emails,
        snapshot.phones,
        version=snapshot.version,
    )


async def apply_contact_deleted(uow: UnitOfWork, event: InboundEvent) -> None:
    await forget_contact(uow, uuid.UUID(ContactDeleted.model_validate(event.data).contact_id))


async def apply_contact_erased(uow: UnitOfWork, event: InboundEvent) -> None:
    """GDPR: the person's words and addresses go; the fact that a ticket existed stays."""
    contact_id = uuid.UUID(ContactErased.model_validate(event.data).contact_id)
    await forget_contact(uow, contact_id)
    await uow.session.execute(delete(CustomerTier).where(CustomerTier.contact_id == contact_id))
    tickets = select(Ticket.id).where(Ticket.requester_id == contact_id)
    await uow.session.execute(
        update(Message).where(Message.ticket_id.in_(tickets)).values(body=ERASED, external_id=None)
    )
    await uow.session.execute(update(Csat).where(Csat.ticket_id.in_(tickets)).values(comment=None))
    await uow.session.execute(
        update(Ticket)
        .where(Ticket.requester_id == contact_id)
        .values(subject=ERASED, description=None, tags=[])
    )
    # Published copies of our events about the person (subjects) go at once.
    await uow.session.execute(
        text("DELETE FROM outbox WHERE key = :key AND published_at IS NOT NULL"),
        {"key": str(contact_id)},
    )


# What a merge repoints and remembers: the record kind (as stored in merge_repoints) -> its
# person column. SLA timers are not listed: they follow their ticket's requester.
REPOINTED: dict[str, InstrumentedAttribute[Any]] = {
    "ticket.requester_id": Ticket.requester_id,
    "asset.contact_id": Asset.contact_id,
}


async def apply_contact_merged(uow: UnitOfWork, event: InboundEvent) -> None:
    merged = ContactMerged.model_validate(event.data)
    survivor = uuid.UUID(merged.contact_id)
    losers = [uuid.UUID(i) for i in merged.merged_ids if i != merged.contact_id]
    if not losers:
        return
    await merge_repoints.repoint(
        uow, MergeRepoint, REPOINTED, merged.merge_id, survivor, losers, _moves
    )
    await uow.session.execute(
        update(SlaTimer)
        .where(SlaTimer.tenant_id == uow.tenant_id, SlaTimer.contact_id.in_(losers))
        .values(contact_id=survivor)
    )
    await uow.session.execute(delete(KnownContact).where(KnownContact.contact_id.in_(losers)))
    await uow.session.execute(delete(CustomerTier).where(CustomerTier.contact_id.in_(losers)))


async def apply_contact_unmerged(uow: UnitOfWork, event: InboundEvent) -> None:
    """Give the restored people back exactly what the merge moved; a record that has moved on
    since (no longer on the survivor) stays where it is. A replay finds nothing remembered."""
    unmerged = ContactUnmerged.model_validate(event.data)
    survivor = uuid.UUID(unmerged.contact_id)
    restored = [uuid.UUID(i) for i in unmerged.restored_ids]
    await merge_repoints.undo(
        uow, MergeRepoint, REPOINTED, unmerged.merge_id, survivor, restored, _moves
    )
    await uow.session.execute(
        update(SlaTimer)
        .where(
            SlaTimer.tenant_id == uow.tenant_id,
            SlaTimer.contact_id == survivor,
            SlaTimer.ticket_id == Ticket.id,
            Ticket.requester_id.in_(restored),
        )
        .values(contact_id=Ticket.requester_id)
        .execution_options(synchronize_session=False)
    )


def _moves(column: InstrumentedAttribute[Any], person: Any) -> dict[str, Any]:
    """The new person of a row; a ticket whose requester changes is a new version of it (its
    ETag changes)."""
    values: dict[str, Any] = {column.key: person}
    return values | {"version": Ticket.version + 1} if column.class_ is Ticket else values


async def apply_segment_changed(uow: UnitOfWork, event: InboundEvent) -> None:
    """Keep the latest tier per customer (an older computation never wins)."""
    change = CustomerSegmentChanged.model_validate(event.data)
    statement = insert(CustomerTier).values(
        id=uuid.uuid4(),
        tenant_id=uow.tenant_id,
        contact_id=uuid.UUID(change.contact_id),
        value_tier=change.value_tier,
        rfm_segment=change.rfm_segment,
        computed_at=change.computed_at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "contact_id"],
        set_={
            "value_tier": statement.excluded.value_tier,
            "rfm_segment": statement.excluded.rfm_segment,
            "computed_at": statement.excluded.computed_at,
        },
        where=CustomerTier.computed_at <= statement.excluded.computed_at,
    )
    await uow.session.execute(statement)
    contact_id = uuid.UUID(change.contact_id)
    tier = await value_tier(uow, contact_id)  # the newest, whichever event won
    open_tickets = await uow.session.scalars(
        select(Ticket)
        .where(
            Ticket.requester_id == contact_id,
            Ticket.status.in_(ACTIVE),
            Ticket.merged_into_id.is_(None),
        )
        .order_by(Ticket.id)
        .with_for_update()
    )
    now = datetime.now(UTC)
    for ticket in open_tickets.all():
        if ticket.value_tier != tier:
            ticket.value_tier = tier
            await apply_policy(uow, ticket, now)


async def apply_order_placed(uow: UnitOfWork, event: InboundEvent) -> None:
    """Each order line becomes an asset of the person (once, whatever the replays)."""
    order = OrderPlaced.model_validate(event.data)
    placed: datetime = order.placed_at
    for line_no, line in enumerate(order.lines):
        statement = insert(Asset).values(
            id=uuid.uuid4(),
            tenant_id=uow.tenant_id,
            contact_id=uuid.UUID(order.contact_id),
            order_id=order.order_id,
            line_no=line_no,
            sku=line.sku,
            product=line.name,
            serial_number=line.serial_number,
            purchase_date=placed.date(),
            warranty_months=line.warranty_months,
        )
        await uow.session.execute(statement.on_conflict_do_nothing())


HANDLERS: dict[tuple[str, str], Handler] = {
    (ContactCreated.topic, ContactCreated.type): apply_contact_snapshot,
    (ContactUpdated.topic, ContactUpdated.type): apply_contact_snapshot,
    (ContactDeleted.topic, ContactDeleted.type): apply_contact_deleted,
    (ContactErased.topic, ContactErased.type): apply_contact_erased,
    (ContactMerged.topic, ContactMerged.type): apply_contact_merged,
    (ContactUnmerged.topic, ContactUnmerged.type): apply_contact_unmerged,
    (CustomerSegmentChanged.topic, CustomerSegmentChanged.type): apply_segment_changed,
    (OrderPlaced.topic, OrderPlaced.type): apply_order_placed,
}
SUBSCRIPTION = Subscription(handlers=HANDLERS)
