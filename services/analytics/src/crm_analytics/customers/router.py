from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from crm_analytics.customers import service
from crm_analytics.customers.schemas import Customer360
from crm_analytics.permissions import Reader
from crm_shared.web import UoW

router = APIRouter(tags=["customers"])
ContactId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get(
    "/v1/customers/{contact_id}",
    response_model=Customer360,
    summary="Customer 360",
    description="Profile snapshot, first and last interaction and the channels used with "
    "counts (over touchpoints: timeline entries with a direction), open tickets, "
    "open opportunities and their amounts, lifetime revenue (non-cancelled ERP orders) "
    "and paid invoices, RFM scores and segment, value tier, historic CLV (revenue to date), "
    "predicted CLV (BG/NBD x Gamma-Gamma, next 52 weeks), churn probability (1 - P(alive)), "
    "loyalty type and the current consent per channel and purpose. A merged duplicate's id "
    "answers with the survivor. Scores are those of the last recompute.",
)
async def get_customer(contact_id: ContactId, uow: UoW, _: Reader) -> Customer360:
    async with uow:
        return await service.customer_360(uow, contact_id)
