"""Reading the omnichannel timeline: a person's entries (including their converted leads'
and merged duplicates', which were re-filed under them) or a company's, rolled up through its
subsidiaries and the people who hold roles in them. Newest first, keyset cursor on
(occurred_at, id), so pages stay stable whatever order the events arrived in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select

from crm_analytics.projections.models import Company, ContactCompany, TimelineEntry
from crm_shared.errors import ValidationFailed
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork


@dataclass(frozen=True)
class TimelineFilters:
    channel: list[str]
    type: list[str]
    source: list[str]  # "service" or "service:entity"
    since: datetime | None
    until: datetime | None


def _conditions(filters: TimelineFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.channel:
        where.append(TimelineEntry.channel.in_(filters.channel))
    if filters.type:
        where.append(TimelineEntry.type.in_(filters.type))
    if filters.source:
        parts = []
        for source in filters.source:
            service, _, entity = source.partition(":")
            cond = TimelineEntry.source_service == service
            parts.append(cond & (TimelineEntry.source_entity == entity) if entity else cond)
        where.append(or_(*parts))
    if filters.since is not None:
        where.append(TimelineEntry.occurred_at >= filters.since)
    if filters.until is not None:
        where.append(TimelineEntry.occurred_at < filters.until)
    return where


def _after_cursor(page: PageParams) -> list[ColumnElement[bool]]:
    if not page.cursor:
        return []
    try:
        at, last = datetime.fromisoformat(str(page.cursor[0])), uuid.UUID(str(page.cursor[1]))
    except (ValueError, IndexError) as exc:
        raise ValidationFailed(
            "The cursor is not valid.",
            errors=[{"pointer": "/cursor", "in": "query", "detail": "malformed cursor"}],
        ) from exc
    return [
        or_(
            TimelineEntry.occurred_at < at,
            (TimelineEntry.occurred_at == at) & (TimelineEntry.id < last),
        )
    ]


async def person_timeline(
    uow: UnitOfWork, contact_id: str, filters: TimelineFilters, page: PageParams
) -> list[TimelineEntry]:
    query = select(TimelineEntry).where(
        TimelineEntry.contact_id == contact_id, *_conditions(filters), *_after_cursor(page)
    )
    query = query.order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())
    return list((await uow.session.scalars(query.limit(page.limit + 1))).all())


async def company_subtree(uow: UnitOfWork, company_id: str) -> list[str]:
    """The company and every subsidiary below it (cycles are cut)."""
    tree = select(Company.company_id).where(Company.company_id == company_id).cte(recursive=True)
    tree = tree.union(select(Company.company_id).where(Company.parent_id == tree.c.company_id))
    found = list((await uow.session.scalars(select(tree.c.company_id))).all())
    return found or [company_id]


async def company_timeline(
    uow: UnitOfWork, company_id: str, filters: TimelineFilters, page: PageParams
) -> list[TimelineEntry]:
    companies = await company_subtree(uow, company_id)
    people = select(ContactCompany.contact_id).where(ContactCompany.company_id.in_(companies))
    query = select(TimelineEntry).where(
        or_(TimelineEntry.company_id.in_(companies), TimelineEntry.contact_id.in_(people)),
        *_conditions(filters),
        *_after_cursor(page),
    )
    query = query.order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())
    return list((await uow.session.scalars(query.limit(page.limit + 1))).all())
