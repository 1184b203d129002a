from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator

from crm_contacts.ownership.service import TransferResult, transfer_ownership
from crm_contacts.permissions import Manager
from crm_shared.idempotency import idempotent
from crm_shared.validation import StrictModel, UserId
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/ownership-transfers", tags=["ownership"])


class TransferRequest(StrictModel):
    from_owner_id: UserId
    to_owner_id: UserId
    people: bool = True
    companies: bool = True

    @model_validator(mode="after")
    def _different(self) -> TransferRequest:
        if self.from_owner_id == self.to_owner_id:
            raise ValueError("from_owner_id and to_owner_id must differ")
        return self


@router.post(
    "",
    status_code=201,
    response_model=TransferResult,
    summary="Move every person and company one user owns to another user",
)
async def transfer(body: TransferRequest, request: Request, uow: UoW, _: Manager) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            result = await transfer_ownership(
                uow,
                from_owner=body.from_owner_id,
                to_owner=body.to_owner_id,
                people=body.people,
                companies=body.companies,
            )
            return result, {}

        return await idempotent(uow, request, work)
