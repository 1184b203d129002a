"""The consent ledger: every grant and withdrawal appended with its source and evidence; the
current consent per channel and purpose is the latest entry by capture time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from crm_contacts.consents.models import ConsentEntry, ConsentVoid
from crm_contacts.consents.schemas import ConsentCreate, CurrentConsent
from crm_contacts.people.service import get_person
from crm_shared.events.catalog import ConsentGranted, ConsentWithdrawn
from crm_shared.uow import UnitOfWork


async def record_consent(
    uow: UnitOfWork,
    person_id: uuid.UUID,
    data: ConsentCreate,
    *,
    source_event_id: str | None = None,
) -> ConsentEntry:
    await get_person(uow, person_id, include_deleted=True)
    entry = ConsentEntry(
        tenant_id=uow.tenant_id,
        person_id=person_id,
        channel=data.channel,
        purpose=data.purpose,
        status=data.status,
        source=data.source,
        evidence=data.evidence,
        captured_at=data.captured_at or datetime.now(UTC),
        recorded_by=uow.actor,
        source_event_id=source_event_id,
    )
    uow.session.add(entry)
    await uow.session.flush()
    event = ConsentGranted if data.status == "granted" else ConsentWithdrawn
    uow.publish(
        event(
            tenant_id=uow.tenant_id,
            contact_id=str(person_id),
            channel=data.channel,
            purpose=data.purpose,
            source=data.source,
            captured_at=entry.captured_at,
            entry_id=str(entry.id),
        )
    )
    return entry


async def already_recorded(uow: UnitOfWork, source_event_id: str) -> bool:
    query = select(ConsentEntry.id).where(ConsentEntry.source_event_id == source_event_id)
    return await uow.session.scalar(query) is not None


async def ledger(uow: UnitOfWork, person_id: uuid.UUID) -> list[ConsentEntry]:
    query = (
        select(ConsentEntry)
        .where(
            ConsentEntry.person_id == person_id,
            ConsentEntry.id.not_in(select(ConsentVoid.entry_id)),
        )
        .order_by(ConsentEntry.captured_at, ConsentEntry.recorded_at)
    )
    return list((await uow.session.scalars(query)).all())


def current(entries: list[ConsentEntry]) -> list[CurrentConsent]:
    """Latest entry per (channel, purpose) by capture time; `entries` in ledger order."""
    latest: dict[tuple[str, str], ConsentEntry] = {}
    for entry in entries:
        latest[(entry.channel, entry.purpose)] = entry
    return [
        CurrentConsent(
            channel=e.channel,
            purpose=e.purpose,
            status=e.status,
            captured_at=e.captured_at,
            source=e.source,
        )
        for _, e in sorted(latest.items())
    ]
