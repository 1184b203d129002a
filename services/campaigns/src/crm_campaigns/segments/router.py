from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_campaigns.permissions import Reader, Writer
from crm_campaigns.segments import service
from crm_campaigns.segments.rules import compile_rules
from crm_campaigns.segments.schemas import (
    RULES_EXAMPLE,
    ListChange,
    ListMembers,
    Preview,
    PreviewRequest,
    SegmentCreate,
    SegmentRead,
    SegmentUpdate,
)
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/segments", tags=["segments"])
SEGMENT_EXAMPLE = {"name": "VIP customers", "kind": "dynamic", "rules": RULES_EXAMPLE}


@router.post("", status_code=201, response_model=SegmentRead, summary="Create a segment or list")
async def create_segment(
    request: Request,
    uow: UoW,
    _: Writer,
    body: Annotated[SegmentCreate, Body(openapi_examples={"dynamic": {"value": SEGMENT_EXAMPLE}})],
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            segment = SegmentRead.model_validate(await service.create_segment(uow, body))
            return segment, {"ETag": f'"{segment.version}"'}

        return await idempotent(uow, request, work)


@router.get("", response_model=Page[SegmentRead], summary="List segments and lists")
async def list_segments(
    uow: UoW, _: Reader, page: Annotated[PageParams, Depends(page_params)]
) -> Page[SegmentRead]:
    async with uow:
        rows = [SegmentRead.model_validate(s) for s in await service.list_segments(uow, page)]
    return Page(
        items=rows[: page.limit], next_cursor=next_cursor(rows, page.limit, lambda s: [str(s.id)])
    )


@router.post("/preview", response_model=Preview, summary="Count and sample a rule tree")
async def preview_rules(
    uow: UoW,
    _: Reader,
    body: Annotated[
        PreviewRequest, Body(openapi_examples={"rules": {"value": {"rules": RULES_EXAMPLE}}})
    ],
) -> Preview:
    async with uow:
        return await service.preview(uow, compile_rules(body.rules), body.sample_size)


@router.get("/{segment_id}", response_model=SegmentRead, summary="Get a segment")
async def get_segment(
    segment_id: uuid.UUID, uow: UoW, _: Reader, response: Response
) -> SegmentRead:
    async with uow:
        segment = SegmentRead.model_validate(await service.get_segment(uow, segment_id))
    set_etag(response, segment.version)
    return segment


@router.patch("/{segment_id}", response_model=SegmentRead, summary="Rename or redefine (If-Match)")
async def update_segment(
    segment_id: uuid.UUID,
    body: SegmentUpdate,
    request: Request,
    uow: UoW,
    _: Writer,
    response: Response,
) -> SegmentRead:
    expected = if_match_version(request)
    async with uow:
        segment = SegmentRead.model_validate(
            await service.update_segment(uow, segment_id, body, expected_version=expected)
        )
    set_etag(response, segment.version)
    return segment


@router.delete(
    "/{segment_id}",
    status_code=204,
    summary="Delete a segment or static list (If-Match)",
    description="409 while a draft, scheduled or running campaign uses it (the problem names "
    "them in `campaign_ids`); finished campaigns keep their members and report without it.",
)
async def delete_segment(segment_id: uuid.UUID, request: Request, uow: UoW, _: Writer) -> Response:
    expected = if_match_version(request)
    async with uow:
        await service.delete_segment(uow, segment_id, expected_version=expected)
    return Response(status_code=204)


@router.get("/{segment_id}/preview", response_model=Preview, summary="Count and sample")
async def preview_segment(
    segment_id: uuid.UUID,
    uow: UoW,
    _: Reader,
    sample_size: Annotated[int, Query(ge=0, le=100)] = 10,
) -> Preview:
    async with uow:
        segment = await service.get_segment(uow, segment_id)
        return await service.preview(uow, service.condition(segment), sample_size)


@router.post("/{segment_id}/members", response_model=ListChange, summary="Add people to a list")
async def add_members(segment_id: uuid.UUID, body: ListMembers, uow: UoW, _: Writer) -> ListChange:
    async with uow:
        return ListChange(added=await service.add_to_list(uow, segment_id, body.contact_ids))


@router.delete(
    "/{segment_id}/members/{contact_id}", status_code=204, summary="Remove a person from a list"
)
async def remove_member(
    segment_id: uuid.UUID, contact_id: uuid.UUID, uow: UoW, _: Writer
) -> Response:
    async with uow:
        await service.remove_from_list(uow, segment_id, contact_id)
    return Response(status_code=204)
