"""Segments: storing rule trees and lists, and turning either into a SQL condition."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from crm_campaigns.campaigns.models import Campaign
from crm_campaigns.projection.models import ProjectedPerson
from crm_campaigns.segments.models import ListEntry, Segment
from crm_campaigns.segments.rules import Group, compile_rules
from crm_campaigns.segments.schemas import (
    PersonSample,
    Preview,
    SegmentCreate,
    SegmentUpdate,
)
from crm_shared.concurrency import check_version
from crm_shared.errors import Conflict, NotFound
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

P = ProjectedPerson.__table__.c


def reachable() -> ColumnElement[bool]:
    """People contacts has described (not only a segment stub), not deleted, not erased."""
    return and_(P.version > 0, P.deleted_at.is_(None), P.erased_at.is_(None))


async def create_segment(uow: UnitOfWork, data: SegmentCreate) -> Segment:
    segment = Segment(
        tenant_id=uow.tenant_id,
        name=data.name,
        kind=data.kind,
        rules=data.rules.model_dump(mode="json", exclude_none=True) if data.rules else None,
    )
    uow.session.add(segment)
    await uow.session.flush()
    return segment


async def get_segment(uow: UnitOfWork, segment_id: uuid.UUID) -> Segment:
    segment = await uow.session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"Segment {segment_id} not found.")
    return segment


async def list_segments(uow: UnitOfWork, page: PageParams) -> list[Segment]:
    query = select(Segment).order_by(Segment.id).limit(page.limit + 1)
    if page.cursor:
        query = query.where(Segment.id > uuid.UUID(str(page.cursor[0])))
    return list((await uow.session.scalars(query)).all())


async def update_segment(
    uow: UnitOfWork, segment_id: uuid.UUID, data: SegmentUpdate, *, expected_version: int
) -> Segment:
    segment = await get_segment(uow, segment_id)
    check_version(segment.version, expected_version)
    if data.rules is not None:
        if segment.kind != "dynamic":
            raise Conflict("A static list has members, not rules.")
        segment.rules = data.rules.model_dump(mode="json", exclude_none=True)
    if data.name is not None:
        segment.name = data.name
    await uow.session.flush()
    return segment


async def delete_segment(uow: UnitOfWork, segment_id: uuid.UUID, *, expected_version: int) -> None:
    """Not while a campaign that may still build its audience (draft, scheduled, running) uses
    it; finished campaigns keep their members and report without it."""
    segment = await get_segment(uow, segment_id)
    check_version(segment.version, expected_version)
    users = (
        await uow.session.execute(
            select(Campaign.id, Campaign.name)
            .where(
                Campaign.status.in_(("draft", "scheduled", "running")),
                or_(
                    Campaign.segment_ids.contains([segment_id]),
                    Campaign.exclude_segment_ids.contains([segment_id]),
                ),
            )
            .order_by(Campaign.id)
        )
    ).all()
    if users:
        names = ", ".join(name for _, name in users)
        raise Conflict(
            f"Campaigns still use this segment: {names}. Take it out of them first.",
            extra={"campaign_ids": [str(campaign_id) for campaign_id, _ in users]},
        )
    await uow.session.delete(segment)  # a list's entries go with it (ON DELETE CASCADE)
    await uow.session.flush()


def condition(segment: Segment) -> ColumnElement[bool]:
    if segment.kind == "static":
        members = select(ListEntry.contact_id).where(ListEntry.segment_id == segment.id)
        return P.contact_id.in_(members)
    return compile_rules(Group.model_validate(segment.rules))


async def preview(uow: UnitOfWork, where: ColumnElement[bool], sample_size: int) -> Preview:
    scope = and_(reachable(), where)
    count = await uow.session.scalar(select(func.count()).where(scope))
    rows = (
        await uow.session.execute(
            select(
                P.contact_id,
                P.first_name,
                P.last_name,
                P.email,
                P.lifecycle_stage,
                P.country,
                P.tags,
                P.value_tier,
            )
            .where(scope)
            .order_by(P.contact_id)
            .limit(sample_size)
        )
    ).all()
    sample = [PersonSample.model_validate(dict(r._mapping)) for r in rows]
    return Preview(count=int(count or 0), sample=sample)


async def add_to_list(uow: UnitOfWork, segment_id: uuid.UUID, ids: list[uuid.UUID]) -> int:
    segment = await get_segment(uow, segment_id)
    if segment.kind != "static":
        raise Conflict("Only static lists take members; a dynamic segment is defined by rules.")
    rows: list[dict[str, Any]] = [
        {"tenant_id": uow.tenant_id, "segment_id": segment_id, "contact_id": c} for c in set(ids)
    ]
    result = await uow.session.execute(
        insert(ListEntry).values(rows).on_conflict_do_nothing().returning(ListEntry.contact_id)
    )
    return len(result.all())


async def remove_from_list(uow: UnitOfWork, segment_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    await get_segment(uow, segment_id)
    entry = await uow.session.get(ListEntry, (uow.tenant_id, segment_id, contact_id))
    if entry is None:
        raise NotFound("This person is not on the list.")
    await uow.session.delete(entry)
