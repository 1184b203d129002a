from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from crm_contacts.gdpr import service
from crm_contacts.permissions import Admin
from crm_shared.validation import StrictModel
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/people/{person_id}", tags=["gdpr"])


class ErasureRequest(StrictModel):
    reason: Annotated[str, Field(max_length=500)] | None = None


class ErasureRead(BaseModel):
    person_id: uuid.UUID
    erased_at: datetime
    requested_by: str


@router.get("/export", summary="Right of access: everything held about the person (JSON)")
async def export_person(person_id: uuid.UUID, uow: UoW, _: Admin) -> dict[str, Any]:
    async with uow:
        return await service.export_person(uow, person_id)


@router.post(
    "/erasure",
    status_code=201,
    response_model=ErasureRead,
    summary="Right to erasure: remove the person's PII here and, by event, everywhere",
)
async def erase_person(
    person_id: uuid.UUID, uow: UoW, _: Admin, body: Annotated[ErasureRequest | None, Body()] = None
) -> ErasureRead:
    async with uow:
        erasure = await service.erase_person(uow, person_id, reason=body.reason if body else None)
    return ErasureRead(
        person_id=erasure.person_id, erased_at=erasure.erased_at, requested_by=erasure.requested_by
    )
