from __future__ import annotations

from fastapi import APIRouter

from crm_opportunities.permissions import Manager
from crm_opportunities.teams.service import visibility
from crm_opportunities.transfers import service
from crm_opportunities.transfers.schemas import TransferCreate, TransferRead
from crm_shared.web import UoW

router = APIRouter(tags=["transfers"])


@router.post(
    "/v1/ownership-transfers",
    response_model=TransferRead,
    summary="Move one owner's leads and deals to another (admin, or a manager within their tree)",
)
async def transfer(body: TransferCreate, uow: UoW, principal: Manager) -> TransferRead:
    async with uow:
        vis = await visibility(uow, principal)
        return await service.transfer(uow, vis, body)
