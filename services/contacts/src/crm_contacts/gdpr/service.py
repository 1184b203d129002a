"""GDPR: the right of access (export everything held) and the right to erasure.

Erasure removes the PII (names, emails, phones, addresses, free text, custom attributes) and
keeps what the law requires: the fact of the erasure and the consent ledger (proof of consent
and of withdrawals). Published outbox copies of the person's events are purged too, and
`contact.erased` tells every other service to do the same.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update

from crm_contacts.companies.schemas import RoleRead
from crm_contacts.companies.service import roles_of
from crm_contacts.consents.schemas import ConsentEntryRead
from crm_contacts.consents.service import current, ledger
from crm_contacts.interactions.models import Interaction
from crm_contacts.interactions.schemas import InteractionRead
from crm_contacts.people.models import Erasure, Person
from crm_contacts.people.service import get_person, to_read
from crm_shared.errors import Conflict
from crm_shared.events.catalog import ContactErased
from crm_shared.uow import UnitOfWork


async def export_person(uow: UnitOfWork, person_id: uuid.UUID) -> dict[str, Any]:
    person = await get_person(uow, person_id, include_deleted=True)
    entries = await ledger(uow, person_id)
    interactions = (
        await uow.session.scalars(
            select(Interaction)
            .where(Interaction.person_id == person_id)
            .order_by(Interaction.occurred_at)
        )
    ).all()
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "person": to_read(person).model_dump(mode="json"),
        "roles": [
            RoleRead.model_validate(r).model_dump(mode="json")
            for r in await roles_of(uow, person_id=person_id)
        ],
        "consents": {
            "current": [c.model_dump(mode="json") for c in current(entries)],
            "ledger": [ConsentEntryRead.model_validate(e).model_dump(mode="json") for e in entries],
        },
        "interactions": [
            InteractionRead.model_validate(i).model_dump(mode="json") for i in interactions
        ],
    }


async def erase_person(uow: UnitOfWork, person_id: uuid.UUID, *, reason: str | None) -> Erasure:
    person = await get_person(uow, person_id, for_update=True, include_deleted=True)
    if person.erased_at is not None:
        raise Conflict("This person has already been erased.")
    now = datetime.now(UTC)
    _scrub(person, now)
    person.emails.clear()
    person.phones.clear()
    await uow.session.execute(
        update(Interaction)
        .where(Interaction.person_id == person_id)
        .values(summary=None)
        .execution_options(synchronize_session=False)
    )
    erasure = Erasure(
        tenant_id=uow.tenant_id,
        person_id=person_id,
        requested_by=uow.actor or "?",
        reason=reason,
        erased_at=now,
    )
    uow.session.add(erasure)
    await uow.session.flush()
    await uow.session.execute(  # published copies only: unpublished rows still have to go out
        text("DELETE FROM outbox WHERE key = :key AND published_at IS NOT NULL"),
        {"key": str(person_id)},
    )
    uow.publish(ContactErased(tenant_id=uow.tenant_id, contact_id=str(person_id), erased_at=now))
    return erasure


def _scrub(person: Person, now: datetime) -> None:
    for field in (
        "first_name",
        "last_name",
        "job_title",
        "language",
        "timezone",
        "source",
        "external_id",
        "owner_id",
        "preferred_channel",
        "contact_hours",
    ):
        setattr(person, field, None)
    person.addresses, person.attributes, person.tags = [], {}, []
    person.do_not_contact = True  # nobody may contact an erased person again
    person.erased_at = person.updated_at = now
