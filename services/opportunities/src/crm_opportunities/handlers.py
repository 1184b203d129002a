"""What opportunities consumes from crm.contacts.v1.

- contact.created / updated / deleted keep `contact_emails`, the local read model behind the
  duplicate check on lead intake.
- contact.erased removes the person's PII from their leads (converted to them, or carrying one
  of their emails) and drops the local copies, including published outbox copies.
- contact.merged repoints deals, leads and known emails from the merged ids to the survivor,
  remembering what it moved (merge_repoints); contact.unmerged moves exactly that back.
- erp order.placed / order.cancelled keep `orders`, linked to the deal an order references.

Every handler converges to the same state when replayed (set semantics, no increments).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import InstrumentedAttribute

from crm_opportunities.deals.models import Opportunity, Order
from crm_opportunities.leads.models import ContactEmail, Lead, MergeRepoint
from crm_shared import merge_repoints
from crm_shared.consumer import Handler, Subscription
from crm_shared.events.catalog import (
    ContactCreated,
    ContactDeleted,
    ContactErased,
    ContactMerged,
    ContactUpdated,
)
from crm_shared.events.contacts import ContactUnmerged
from crm_shared.events.envelope import InboundEvent
from crm_shared.events.erp import OrderCancelled, OrderPlaced
from crm_shared.uow import UnitOfWork

PII = ("first_name", "last_name", "email", "phone", "message")


async def apply_contact_snapshot(uow: UnitOfWork, event: InboundEvent) -> None:
    snapshot = (
        ContactCreated.model_validate(event.data).contact
        if event.type == ContactCreated.type
        else ContactUpdated.model_validate(event.data).contact
    )
    contact_id = uuid.UUID(snapshot.contact_id)
    await uow.session.execute(delete(ContactEmail).where(ContactEmail.contact_id == contact_id))
    for email in sorted({e.lower() for e in snapshot.emails}):
        uow.session.add(ContactEmail(tenant_id=uow.tenant_id, contact_id=contact_id, email=email))
    await uow.session.flush()


async def apply_contact_deleted(uow: UnitOfWork, event: InboundEvent) -> None:
    contact_id = uuid.UUID(ContactDeleted.model_validate(event.data).contact_id)
    await uow.session.execute(delete(ContactEmail).where(ContactEmail.contact_id == contact_id))


async def apply_contact_erased(uow: UnitOfWork, event: InboundEvent) -> None:
    erased = ContactErased.model_validate(event.data)
    contact_id = uuid.UUID(erased.contact_id)
    emails = list(
        (
            await uow.session.scalars(
                select(ContactEmail.email).where(ContactEmail.contact_id == contact_id)
            )
        ).all()
    )
    match = Lead.contact_id == contact_id
    if emails:
        match = or_(match, Lead.email.in_(emails))
    lead_ids = list((await uow.session.scalars(select(Lead.id).where(match))).all())
    if lead_ids:
        await uow.session.execute(
            update(Lead)
            .where(Lead.id.in_(lead_ids))
            .values(
                {**dict.fromkeys(PII), "erased_at": datetime.now(UTC)},
            )
            .execution_options(synchronize_session=False)
        )
        # Published lead events carried the email; unpublished rows still have to go out.
        await uow.session.execute(
            text(
                "DELETE FROM outbox WHERE key = ANY(:keys) AND published_at IS NOT NULL "
                "AND tenant_id = :tenant"
            ),
            {"keys": [str(i) for i in lead_ids], "tenant": uow.tenant_id},
        )
    await uow.session.execute(delete(ContactEmail).where(ContactEmail.contact_id == contact_id))
    await uow.session.execute(
        update(Lead)
        .where(Lead.duplicate_of_contact_id == contact_id)
        .values(duplicate_of_contact_id=None)
        .execution_options(synchronize_session=False)
    )


# What a merge repoints: the record kind (as stored in merge_repoints) -> its person column.
REPOINTED: dict[str, InstrumentedAttribute[Any]] = {
    "lead.contact_id": Lead.contact_id,
    "lead.duplicate_of_contact_id": Lead.duplicate_of_contact_id,
    "opportunity.person_id": Opportunity.person_id,
    "contact_email.contact_id": ContactEmail.contact_id,
}


async def apply_contact_merged(uow: UnitOfWork, event: InboundEvent) -> None:
    merged = ContactMerged.model_validate(event.data)
    survivor = uuid.UUID(merged.contact_id)
    losers = [uuid.UUID(i) for i in merged.merged_ids if i != merged.contact_id]
    if losers:
        await merge_repoints.repoint(
            uow, MergeRepoint, REPOINTED, merged.merge_id, survivor, losers, _moves
        )


async def apply_contact_unmerged(uow: UnitOfWork, event: InboundEvent) -> None:
    """Move back exactly what the merge moved, for the people restored; a reference changed
    since (say, a deal handed to another person) is left as it is."""
    unmerged = ContactUnmerged.model_validate(event.data)
    restored = [uuid.UUID(i) for i in unmerged.restored_ids]
    await merge_repoints.undo(
        uow,
        MergeRepoint,
        REPOINTED,
        unmerged.merge_id,
        uuid.UUID(unmerged.contact_id),
        restored,
        _moves,
    )


def _moves(column: InstrumentedAttribute[Any], person: Any) -> dict[str, Any]:
    """A deal whose person changes is a new version of it (its ETag changes)."""
    values: dict[str, Any] = {column.key: person}
    return values | {"version": Opportunity.version + 1} if column.class_ is Opportunity else values


async def apply_order_placed(uow: UnitOfWork, event: InboundEvent) -> None:
    order = OrderPlaced.model_validate(event.data)
    opportunity_id = None
    if order.opportunity_id:
        try:
            wanted = uuid.UUID(order.opportunity_id)
        except ValueError:
            wanted = None
        if wanted is not None:
            opportunity_id = await uow.session.scalar(
                select(Opportunity.id).where(Opportunity.id == wanted)
            )
    await uow.session.execute(
        insert(Order)
        .values(
            id=uuid.uuid4(),
            tenant_id=uow.tenant_id,
            order_id=order.order_id,
            opportunity_id=opportunity_id,
            contact_id=order.contact_id,
            placed_at=order.placed_at,
            total=order.total,
            currency=order.currency,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "order_id"])
    )


async def apply_order_cancelled(uow: UnitOfWork, event: InboundEvent) -> None:
    cancelled = OrderCancelled.model_validate(event.data)
    await uow.session.execute(
        update(Order)
        .where(Order.order_id == cancelled.order_id, Order.cancelled_at.is_(None))
        .values(cancelled_at=cancelled.cancelled_at)
        .execution_options(synchronize_session=False)
    )


HANDLERS: dict[tuple[str, str], Handler] = {
    (ContactCreated.topic, ContactCreated.type): apply_contact_snapshot,
    (ContactUpdated.topic, ContactUpdated.type): apply_contact_snapshot,
    (ContactDeleted.topic, ContactDeleted.type): apply_contact_deleted,
    (ContactErased.topic, ContactErased.type): apply_contact_erased,
    (ContactMerged.topic, ContactMerged.type): apply_contact_merged,
    (ContactUnmerged.topic, ContactUnmerged.type): apply_contact_unmerged,
    (OrderPlaced.topic, OrderPlaced.type): apply_order_placed,
    (OrderCancelled.topic, OrderCancelled.type): apply_order_cancelled,
}
SUBSCRIPTION = Subscription(handlers=HANDLERS)
