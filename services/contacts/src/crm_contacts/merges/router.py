from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_contacts.merges import service
from crm_contacts.merges.schemas import DuplicateCandidate, DuplicatePair, MergeCreate, MergeRead
from crm_contacts.permissions import Reader, Writer
from crm_shared.idempotency import idempotent
from crm_shared.pagination import MAX_LIMIT
from crm_shared.web import UoW

router = APIRouter(tags=["duplicates"])


@router.get(
    "/v1/people/{person_id}/duplicates",
    response_model=list[DuplicateCandidate],
    summary="Likely duplicates of a person, best first",
)
async def person_duplicates(person_id: uuid.UUID, uow: UoW, _: Reader) -> list[DuplicateCandidate]:
    async with uow:
        return await service.duplicates_of(uow, person_id)


@router.get(
    "/v1/duplicates",
    response_model=list[DuplicatePair],
    summary="Likely duplicate pairs across the tenant, best first",
)
async def tenant_duplicates(
    uow: UoW, _: Reader, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50
) -> list[DuplicatePair]:
    async with uow:
        return await service.all_duplicates(uow, limit)


@router.post(
    "/v1/merges",
    status_code=201,
    response_model=MergeRead,
    summary="Merge duplicates into a survivor (reversible)",
)
async def create_merge(request: Request, body: MergeCreate, uow: UoW, _: Writer) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            merge = MergeRead.model_validate(await service.merge(uow, body))
            return merge, {"Location": f"/v1/merges/{merge.id}"}

        return await idempotent(uow, request, work)


@router.get("/v1/merges/{merge_id}", response_model=MergeRead, summary="Get a merge")
async def get_merge(merge_id: uuid.UUID, uow: UoW, _: Reader) -> MergeRead:
    async with uow:
        return MergeRead.model_validate(await service.get_merge(uow, merge_id))


@router.post(
    "/v1/merges/{merge_id}/undo",
    response_model=MergeRead,
    summary="Undo a merge within its retention window",
)
async def undo_merge(merge_id: uuid.UUID, uow: UoW, _: Writer) -> MergeRead:
    async with uow:
        return MergeRead.model_validate(await service.undo(uow, merge_id))
