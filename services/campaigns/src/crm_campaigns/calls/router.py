from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from crm_campaigns.calls import service
from crm_campaigns.calls.leads import LeadsClient
from crm_campaigns.calls.schemas import CallEntryRead, CallListCreate, CallListRead, OutcomeBody
from crm_campaigns.permissions import Writer
from crm_shared.auth import Principal, require_roles
from crm_shared.web import UoW

router = APIRouter(tags=["call lists"])
Caller = Annotated[Principal, Depends(require_roles("agent", "marketer", "sales_rep"))]


def leads_client(request: Request) -> LeadsClient:
    transport = getattr(request.app.state, "leads_transport", None)
    return LeadsClient(request.app.state.settings, transport)


@router.post(
    "/v1/campaigns/{campaign_id}/call-lists",
    status_code=201,
    response_model=CallListRead,
    summary="Build a call list from the campaign's audience",
    description="Members with granted phone marketing consent and a number, not do-not-contact; "
    "ordered by value tier (key customers first) and assigned to the agents round robin.",
)
async def create_call_list(
    campaign_id: uuid.UUID, body: CallListCreate, uow: UoW, _: Writer
) -> CallListRead:
    async with uow:
        call_list, count, excluded = await service.build_call_list(uow, campaign_id, body)
        read = CallListRead.model_validate(call_list)
    return read.model_copy(update={"entries": count, "excluded": excluded})


@router.get(
    "/v1/call-lists/{call_list_id}/entries",
    response_model=list[CallEntryRead],
    summary="Who to call, in order (due call-backs first, then priority)",
)
async def call_entries(
    call_list_id: uuid.UUID,
    uow: UoW,
    _: Caller,
    agent_id: Annotated[str | None, Query(max_length=100)] = None,
    open_only: bool = False,
) -> list[CallEntryRead]:
    async with uow:
        rows = await service.list_entries(uow, call_list_id, agent_id, open_only)
        return [CallEntryRead.model_validate(r) for r in rows]


@router.post(
    "/v1/call-lists/{call_list_id}/entries/{contact_id}/outcome",
    response_model=CallEntryRead,
    summary="Record a call's outcome; `interested` creates a lead in opportunities",
)
async def record_outcome(
    call_list_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: OutcomeBody,
    uow: UoW,
    _: Caller,
    leads: Annotated[LeadsClient, Depends(leads_client)],
) -> CallEntryRead:
    async with uow:
        entry = await service.record_outcome(uow, call_list_id, contact_id, body, leads)
        return CallEntryRead.model_validate(entry)
