from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_opportunities.deals import service
from crm_opportunities.deals.schemas import (
    OpportunityCreate,
    OpportunityFilters,
    OpportunityRead,
    OpportunityUpdate,
    OrderRead,
    StageChangeRead,
)
from crm_opportunities.permissions import Reader, Writer
from crm_opportunities.teams.service import visibility
from crm_shared.concurrency import etag, if_match_version, set_etag
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.web import UoW

router = APIRouter(tags=["opportunities"])


@router.post(
    "/v1/opportunities",
    status_code=201,
    response_model=OpportunityRead,
    summary="Open a deal (probability defaults to the stage's)",
)
async def create_opportunity(
    request: Request, body: OpportunityCreate, uow: UoW, principal: Writer
) -> JSONResponse:
    async with uow:
        vis = await visibility(uow, principal)

        async def work() -> tuple[BaseModel, dict[str, str]]:
            opp = OpportunityRead.model_validate(await service.create_opportunity(uow, vis, body))
            return opp, {"ETag": f'"{opp.version}"', "Location": f"/v1/opportunities/{opp.id}"}

        return await idempotent(uow, request, work)


@router.get(
    "/v1/opportunities",
    response_model=Page[OpportunityRead],
    summary="List the deals the caller may see",
)
async def list_opportunities(
    uow: UoW,
    principal: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[OpportunityFilters, Query()],
) -> Page[OpportunityRead]:
    async with uow:
        vis = await visibility(uow, principal)
        rows = await service.list_opportunities(uow, vis, filters, page)
    return Page(
        items=[OpportunityRead.model_validate(o) for o in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda o: [str(o.id)]),
    )


@router.get("/v1/opportunities/{opp_id}", response_model=OpportunityRead, summary="Get a deal")
async def get_opportunity(
    opp_id: uuid.UUID, uow: UoW, principal: Reader, response: Response
) -> OpportunityRead:
    async with uow:
        vis = await visibility(uow, principal)
        opp = OpportunityRead.model_validate(await service.get_opportunity(uow, vis, opp_id))
    set_etag(response, opp.version)
    return opp


@router.patch(
    "/v1/opportunities/{opp_id}",
    response_model=OpportunityRead,
    summary="Update a deal or move it to another stage (If-Match)",
)
async def update_opportunity(
    opp_id: uuid.UUID,
    body: OpportunityUpdate,
    request: Request,
    uow: UoW,
    principal: Writer,
) -> JSONResponse:
    expected = if_match_version(request)
    async with uow:
        vis = await visibility(uow, principal)
        opp = OpportunityRead.model_validate(
            await service.update_opportunity(uow, vis, opp_id, body, expected_version=expected)
        )
    # Already validated: a response of its own skips FastAPI's second pass (the hot path).
    return JSONResponse(opp.model_dump(mode="json"), headers={"ETag": etag(opp.version)})


@router.get(
    "/v1/opportunities/{opp_id}/stage-history",
    response_model=list[StageChangeRead],
    summary="Every stage move: from, to, when, by whom",
)
async def stage_history(opp_id: uuid.UUID, uow: UoW, principal: Reader) -> list[StageChangeRead]:
    async with uow:
        vis = await visibility(uow, principal)
        return [
            StageChangeRead.model_validate(c) for c in await service.stage_history(uow, vis, opp_id)
        ]


@router.get(
    "/v1/opportunities/{opp_id}/orders",
    response_model=list[OrderRead],
    summary="ERP orders placed against this deal",
)
async def orders(opp_id: uuid.UUID, uow: UoW, principal: Reader) -> list[OrderRead]:
    async with uow:
        vis = await visibility(uow, principal)
        return [OrderRead.model_validate(o) for o in await service.orders_of(uow, vis, opp_id)]
