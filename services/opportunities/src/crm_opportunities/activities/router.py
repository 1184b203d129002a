from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crm_opportunities.activities import service
from crm_opportunities.activities.schemas import (
    ActivityComplete,
    ActivityCreate,
    ActivityFilters,
    ActivityRead,
)
from crm_opportunities.permissions import Reader, Writer
from crm_opportunities.teams.service import visibility
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.web import UoW

router = APIRouter(tags=["activities"])


@router.post(
    "/v1/activities",
    status_code=201,
    response_model=ActivityRead,
    summary="Plan a task, call or meeting",
)
async def create_activity(body: ActivityCreate, uow: UoW, principal: Writer) -> ActivityRead:
    async with uow:
        vis = await visibility(uow, principal)
        return ActivityRead.model_validate(await service.create_activity(uow, vis, body))


async def _list(
    uow: UoW, principal: Reader, page: PageParams, filters: ActivityFilters, overdue: bool
) -> Page[ActivityRead]:
    async with uow:
        vis = await visibility(uow, principal)
        rows = await service.list_activities(uow, vis, filters, page, overdue=overdue)
    return Page(
        items=[ActivityRead.model_validate(a) for a in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda a: [str(a.id)]),
    )


@router.get("/v1/activities", response_model=Page[ActivityRead], summary="List activities")
async def list_activities(
    uow: UoW,
    principal: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[ActivityFilters, Query()],
) -> Page[ActivityRead]:
    return await _list(uow, principal, page, filters, False)


@router.get(
    "/v1/activities/overdue",
    response_model=Page[ActivityRead],
    summary="Open activities past their due time (filter by assignee_id for one user)",
)
async def overdue(
    uow: UoW,
    principal: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[ActivityFilters, Query()],
) -> Page[ActivityRead]:
    return await _list(uow, principal, page, filters, True)


@router.get("/v1/activities/{activity_id}", response_model=ActivityRead, summary="Get an activity")
async def get_activity(activity_id: uuid.UUID, uow: UoW, principal: Reader) -> ActivityRead:
    async with uow:
        vis = await visibility(uow, principal)
        return ActivityRead.model_validate(await service.get_activity(uow, vis, activity_id))


@router.post(
    "/v1/activities/{activity_id}/complete",
    response_model=ActivityRead,
    summary="Complete; a call or meeting reaches the customer timeline",
)
async def complete(
    activity_id: uuid.UUID, body: ActivityComplete, uow: UoW, principal: Writer
) -> ActivityRead:
    async with uow:
        vis = await visibility(uow, principal)
        return ActivityRead.model_validate(await service.complete(uow, vis, activity_id, body))
