"""Applying contacts' and analytics' events to the projection. Every write is an upsert guarded
by an ordering key (snapshot version, capture time, computation time), so a replay, a
duplicate or a late event never moves a row backwards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, or_, update
from sqlalchemy.dialects.postgresql import insert

from crm_campaigns.projection.models import MergedPerson, ProjectedConsent, ProjectedPerson
from crm_campaigns.surveys.models import SurveyResponse
from crm_shared.events.catalog import ContactSnapshot
from crm_shared.uow import UnitOfWork

people = cast(Table, ProjectedPerson.__table__)
consents = cast(Table, ProjectedConsent.__table__)
merged_people = cast(Table, MergedPerson.__table__)
PII = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "language",
    "country",
    "source",
    "owner_id",
    "preferred_channel",
    "relationship_level",
    "lifecycle_stage",
)


def _row(snapshot: ContactSnapshot) -> dict[str, Any]:
    email = snapshot.primary_email or (snapshot.emails[0] if snapshot.emails else None)
    return {
        "version": snapshot.version,
        "first_name": snapshot.first_name,
        "last_name": snapshot.last_name,
        "email": email,
        "phone": snapshot.phones[0] if snapshot.phones else None,
        "language": snapshot.language,
        "country": snapshot.country,
        "lifecycle_stage": snapshot.lifecycle_stage,
        "source": snapshot.source,
        "job_title": snapshot.job_title,
        "owner_id": snapshot.owner_id,
        "relationship_level": snapshot.relationship_level,
        "preferred_channel": snapshot.preferred_channel,
        "do_not_contact": snapshot.do_not_contact,
        "tags": list(snapshot.tags),
        "company_ids": list(snapshot.company_ids),
        "attributes": dict(snapshot.attributes),
        "updated_at": snapshot.updated_at,
    }


async def upsert_snapshot(uow: UnitOfWork, snapshot: ContactSnapshot) -> None:
    values = _row(snapshot)
    stmt = insert(people).values(
        tenant_id=uow.tenant_id, contact_id=uuid.UUID(snapshot.contact_id), **values
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[people.c.tenant_id, people.c.contact_id],
        set_={k: stmt.excluded[k] for k in values},
        where=and_(people.c.version < stmt.excluded.version, people.c.erased_at.is_(None)),
    )
    await uow.session.execute(stmt)


async def mark_deleted(uow: UnitOfWork, contact_id: str, at: datetime) -> bool:
    """True when this marked the person deleted (false: they already were)."""
    stmt = insert(people).values(
        tenant_id=uow.tenant_id,
        contact_id=uuid.UUID(contact_id),
        deleted_at=at,
        tags=[],
        company_ids=[],
        attributes={},
        do_not_contact=False,
        version=0,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[people.c.tenant_id, people.c.contact_id],
        set_={"deleted_at": stmt.excluded.deleted_at},
        where=people.c.deleted_at.is_(None),
    )
    marked = await uow.session.execute(stmt.returning(people.c.contact_id))
    return marked.first() is not None


async def mark_merged(uow: UnitOfWork, merge_id: str, contact_id: str, at: datetime) -> None:
    """Mark a merged person deleted, remembering it for the merge's undo."""
    if await mark_deleted(uow, contact_id, at):
        await uow.session.execute(
            insert(merged_people)
            .values(
                tenant_id=uow.tenant_id,
                merge_id=merge_id,
                contact_id=uuid.UUID(contact_id),
                deleted_at=at,
            )
            .on_conflict_do_nothing()
        )


async def restore_merged(uow: UnitOfWork, merge_id: str, restored_ids: list[str]) -> None:
    """Undo `mark_merged` for the restored people: live again unless deleted since by other
    means. A replay finds nothing remembered."""
    remembered = and_(
        merged_people.c.merge_id == merge_id,
        merged_people.c.contact_id.in_([uuid.UUID(i) for i in restored_ids]),
    )
    await uow.session.execute(
        update(people)
        .where(
            remembered,
            people.c.contact_id == merged_people.c.contact_id,
            people.c.deleted_at == merged_people.c.deleted_at,
        )
        .values(deleted_at=None)
    )
    await uow.session.execute(merged_people.delete().where(remembered))


async def erase(uow: UnitOfWork, contact_id: str, at: datetime) -> None:
    """Keep only the id (members and touches refer to it); every personal field goes."""
    cleared: dict[str, Any] = dict.fromkeys(PII)
    cleared |= {"tags": [], "company_ids": [], "attributes": {}, "do_not_contact": True}
    stmt = insert(people).values(
        tenant_id=uow.tenant_id,
        contact_id=uuid.UUID(contact_id),
        erased_at=at,
        version=0,
        **cleared,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[people.c.tenant_id, people.c.contact_id],
        set_={k: stmt.excluded[k] for k in [*cleared, "erased_at"]}
        | {"rfm_segment": None, "value_tier": None},
    )
    await uow.session.execute(stmt)
    await uow.session.execute(
        consents.delete().where(
            consents.c.tenant_id == uow.tenant_id,
            consents.c.contact_id == uuid.UUID(contact_id),
        )
    )
    # Free text a person wrote in a survey is theirs too.
    await uow.session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.contact_id == uuid.UUID(contact_id))
        .values(comment=None)
    )


async def apply_consent(
    uow: UnitOfWork,
    contact_id: str,
    channel: str,
    purpose: str,
    status: str,
    captured_at: datetime,
) -> None:
    stmt = insert(consents).values(
        tenant_id=uow.tenant_id,
        contact_id=uuid.UUID(contact_id),
        channel=channel,
        purpose=purpose,
        status=status,
        captured_at=captured_at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[
            consents.c.tenant_id,
            consents.c.contact_id,
            consents.c.channel,
            consents.c.purpose,
        ],
        set_={"status": stmt.excluded.status, "captured_at": stmt.excluded.captured_at},
        where=consents.c.captured_at <= stmt.excluded.captured_at,
    )
    await uow.session.execute(stmt)


async def correct_consent(
    uow: UnitOfWork, contact_id: str, channel: str, purpose: str, status: str, at: datetime | None
) -> None:
    """Consent as contacts states it after voiding entries (consent.corrected): whatever the
    time of what we hold, which may be a voided entry newer than the one that counts now."""
    key = (
        (consents.c.contact_id == uuid.UUID(contact_id))
        & (consents.c.channel == channel)
        & (consents.c.purpose == purpose)
    )
    await uow.session.execute(delete(consents).where(key))
    if status != "none" and at is not None:
        await apply_consent(uow, contact_id, channel, purpose, status, at)


async def apply_segment(
    uow: UnitOfWork,
    contact_id: str,
    rfm_segment: str | None,
    value_tier: str | None,
    computed_at: datetime,
) -> None:
    stmt = insert(people).values(
        tenant_id=uow.tenant_id,
        contact_id=uuid.UUID(contact_id),
        version=0,
        tags=[],
        company_ids=[],
        attributes={},
        do_not_contact=False,
        rfm_segment=rfm_segment,
        value_tier=value_tier,
        segment_computed_at=computed_at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[people.c.tenant_id, people.c.contact_id],
        set_={
            "rfm_segment": stmt.excluded.rfm_segment,
            "value_tier": stmt.excluded.value_tier,
            "segment_computed_at": stmt.excluded.segment_computed_at,
        },
        where=and_(
            people.c.erased_at.is_(None),
            or_(
                people.c.segment_computed_at.is_(None),
                people.c.segment_computed_at <= stmt.excluded.segment_computed_at,
            ),
        ),
    )
    await uow.session.execute(stmt)
