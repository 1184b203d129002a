from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crm_campaigns.permissions import Callback
from crm_campaigns.touches import service
from crm_campaigns.touches.schemas import BatchResult, TouchBatch, TouchCreate, TouchRead
from crm_shared.web import UoW

router = APIRouter(prefix="/v1/touches", tags=["touches"])


@router.post(
    "",
    status_code=201,
    response_model=TouchRead,
    summary="Record a provider callback (delivered, opened, clicked, bounced, ...)",
    description="Deduplicated by `provider_event_id`: a repeated callback answers 200 with the "
    "touch first recorded and changes nothing. An `unsubscribed` touch withdraws marketing "
    "consent for the campaign's channel (published as `crm.consent.withdrawn`).",
    responses={200: {"model": TouchRead, "description": "A duplicate callback"}},
)
async def record_touch(body: TouchCreate, uow: UoW, _: Callback) -> JSONResponse:
    async with uow:
        touch, created = await service.intake(uow, body)
    return JSONResponse(touch.model_dump(mode="json"), status_code=201 if created else 200)


@router.post(
    "/batch",
    response_model=BatchResult,
    summary="Record up to 500 provider callbacks at once (all or nothing)",
    description="Each callback as in POST /v1/touches, deduplicated by `provider_event_id`; a "
    "callback for an unknown campaign or a non-member rejects the whole batch (nothing written).",
)
async def record_touches(body: TouchBatch, uow: UoW, _: Callback) -> BatchResult:
    async with uow:
        recorded, duplicates = await service.intake_batch(uow, body.touches)
    return BatchResult(recorded=recorded, duplicates=duplicates)
