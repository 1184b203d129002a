from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from crm_analytics.permissions import Reader
from crm_analytics.projections.models import TimelineEntry
from crm_analytics.projections.service import resolve
from crm_analytics.timeline import service
from crm_analytics.timeline.schemas import TimelineItem
from crm_analytics.timeline.service import TimelineFilters
from crm_shared.errors import ValidationFailed
from crm_shared.events.common import SourceRef
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.web import UoW

router = APIRouter(tags=["timeline"])


def timeline_filters(
    channel: Annotated[
        list[str], Query(description="email, phone, sms, chat, ... (repeatable)")
    ] = [],  # noqa: B006
    type: Annotated[list[str], Query(description="e.g. interaction.logged, order.placed")] = [],  # noqa: B006
    source: Annotated[list[str], Query(description="`service` or `service:entity`")] = [],  # noqa: B006
    since: Annotated[datetime | None, Query(description="occurred at or after")] = None,
    until: Annotated[datetime | None, Query(description="occurred before")] = None,
) -> TimelineFilters:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(
                "Times need a UTC offset.",
                errors=[{"pointer": f"/{name}", "in": "query", "detail": "timezone required"}],
            )
    if since and until and since >= until:
        raise ValidationFailed(
            "`since` must be before `until`.",
            errors=[{"pointer": "/since", "in": "query", "detail": "empty time range"}],
        )
    return TimelineFilters(channel, type, source, since, until)


def _page(rows: list[TimelineEntry], limit: int) -> Page[TimelineItem]:
    items = [
        TimelineItem(
            id=r.id,
            occurred_at=r.occurred_at,
            type=r.type,
            kind=r.kind,
            channel=r.channel,
            direction=r.direction,
            source=SourceRef(service=r.source_service, entity=r.source_entity, id=r.source_id),
            summary=r.summary,
            actor_id=r.actor_id,
            contact_id=r.contact_id,
            company_id=r.company_id,
        )
        for r in rows[:limit]
    ]
    cursor = next_cursor(rows, limit, lambda r: [r.occurred_at.isoformat(), str(r.id)])
    return Page(items=items, next_cursor=cursor)


Filters = Annotated[TimelineFilters, Depends(timeline_filters)]
Paging = Annotated[PageParams, Depends(page_params)]
Id = Annotated[str, Path(min_length=1, max_length=64)]


@router.get(
    "/v1/customers/{contact_id}/timeline",
    response_model=Page[TimelineItem],
    summary="A person's omnichannel timeline, newest first",
    description="Every touchpoint and milestone from every service (interactions, campaign "
    "touches, surveys, tickets, deals, quotes, ERP orders, invoices, contracts), including the "
    "history of the leads converted into this person and of duplicates merged into them. "
    "Ordered by `occurred_at` then `id`, newest first; `next_cursor` pages stably.",
)
async def customer_timeline(
    contact_id: Id, uow: UoW, _: Reader, filters: Filters, page: Paging
) -> Page[TimelineItem]:
    async with uow:
        survivor = await resolve(uow, contact_id)
        rows = await service.person_timeline(uow, survivor, filters, page)
    return _page(rows, page.limit)


@router.get(
    "/v1/companies/{company_id}/timeline",
    response_model=Page[TimelineItem],
    summary="A company's timeline, rolled up through its subsidiaries and people",
    description="Entries filed under the company or any subsidiary below it, and the entries of "
    "every person holding a role in one of them; newest first, stable cursor pagination.",
)
async def company_timeline(
    company_id: Id, uow: UoW, _: Reader, filters: Filters, page: Paging
) -> Page[TimelineItem]:
    async with uow:
        rows = await service.company_timeline(uow, company_id, filters, page)
    return _page(rows, page.limit)
