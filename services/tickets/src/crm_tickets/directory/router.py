from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select

from crm_shared.web import UoW
from crm_tickets.directory.models import Asset
from crm_tickets.permissions import Reader
from crm_tickets.tickets.schemas import AssetInfo
from crm_tickets.tickets.service import asset_info

router = APIRouter(prefix="/v1/assets", tags=["assets"])


@router.get("", response_model=list[AssetInfo], summary="A person's assets and warranty state")
async def list_assets(contact_id: uuid.UUID, uow: UoW, _: Reader) -> list[AssetInfo]:
    async with uow:
        rows = await uow.session.scalars(
            select(Asset).where(Asset.contact_id == contact_id).order_by(Asset.purchase_date)
        )
        return [asset_info(a) for a in rows]
