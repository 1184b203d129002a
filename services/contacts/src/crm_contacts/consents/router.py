from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_contacts.consents import service
from crm_contacts.consents.schemas import ConsentCreate, ConsentEntryRead, ConsentOverview
from crm_contacts.people.service import get_person
from crm_contacts.permissions import Reader, Writer
from crm_shared.idempotency import idempotent
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/people/{person_id}/consents", tags=["consents"])


@router.post(
    "",
    status_code=201,
    response_model=ConsentEntryRead,
    summary="Append a grant or withdrawal to the consent ledger",
)
async def record_consent(
    person_id: uuid.UUID, body: ConsentCreate, request: Request, uow: UoW, _: Writer
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            entry = await service.record_consent(uow, person_id, body)
            return ConsentEntryRead.model_validate(entry), {}

        return await idempotent(uow, request, work)


@router.get(
    "",
    response_model=ConsentOverview,
    summary="Current consent per channel and purpose, and the full ledger",
)
async def consents(person_id: uuid.UUID, uow: UoW, _: Reader) -> ConsentOverview:
    async with uow:
        await get_person(uow, person_id, include_deleted=True)
        entries = await service.ledger(uow, person_id)
    return ConsentOverview(
        current=service.current(entries),
        ledger=[ConsentEntryRead.model_validate(e) for e in entries],
    )
