from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_contacts.interactions import service
from crm_contacts.interactions.schemas import InteractionCreate, InteractionRead, NoteCreate
from crm_contacts.permissions import Reader, Writer
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/people/{person_id}", tags=["interactions"])


@router.post(
    "/interactions",
    status_code=201,
    response_model=InteractionRead,
    summary="Log a call, meeting, email, visit ... with the person",
)
async def log_interaction(
    person_id: uuid.UUID, body: InteractionCreate, request: Request, uow: UoW, _: Writer
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            item = await service.log_interaction(uow, person_id, body)
            return InteractionRead.model_validate(item), {}

        return await idempotent(uow, request, work)


@router.post(
    "/notes",
    status_code=201,
    response_model=InteractionRead,
    summary="Add an internal note (an interaction of kind `note`)",
)
async def add_note(
    person_id: uuid.UUID, body: NoteCreate, request: Request, uow: UoW, _: Writer
) -> JSONResponse:
    note = InteractionCreate(channel="other", direction="internal", kind="note", summary=body.body)
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            item = await service.log_interaction(uow, person_id, note)
            return InteractionRead.model_validate(item), {}

        return await idempotent(uow, request, work)


@router.get(
    "/interactions",
    response_model=Page[InteractionRead],
    summary="The person's notes and interactions, newest first",
)
async def list_interactions(
    person_id: uuid.UUID, uow: UoW, _: Reader, page: Annotated[PageParams, Depends(page_params)]
) -> Page[InteractionRead]:
    async with uow:
        rows = await service.list_interactions(uow, person_id, page)
    return Page(
        items=[InteractionRead.model_validate(r) for r in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda r: [r.occurred_at.isoformat(), str(r.id)]),
    )
