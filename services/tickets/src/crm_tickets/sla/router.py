from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from crm_shared.errors import NotFound
from crm_shared.idempotency import idempotent
from crm_shared.web import UoW
from crm_tickets.permissions import Reader, Supervisor
from crm_tickets.queues.service import get_queue
from crm_tickets.sla import service
from crm_tickets.sla.models import BusinessCalendar, SlaPolicy
from crm_tickets.sla.schemas import CalendarIn, CalendarRead, PolicyCreate, PolicyRead, Span

router = APIRouter(tags=["sla"])


@router.post(
    "/v1/sla-policies",
    status_code=201,
    response_model=PolicyRead,
    summary="Create an SLA policy (by priority and/or customer value tier)",
)
async def create_policy(
    body: PolicyCreate, request: Request, uow: UoW, _: Supervisor
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            if body.escalate_queue_id is not None:
                await get_queue(uow, body.escalate_queue_id)
            policy = SlaPolicy(tenant_id=uow.tenant_id, **body.model_dump())
            uow.session.add(policy)
            await uow.session.flush()
            return PolicyRead.model_validate(policy), {}

        return await idempotent(uow, request, work)


@router.get("/v1/sla-policies", response_model=list[PolicyRead], summary="SLA policies")
async def list_policies(uow: UoW, _: Reader) -> list[PolicyRead]:
    async with uow:
        rows = await uow.session.scalars(
            select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None)).order_by(SlaPolicy.id)
        )
        return [PolicyRead.model_validate(p) for p in rows]


@router.delete("/v1/sla-policies/{policy_id}", status_code=204, summary="Retire a policy")
async def delete_policy(policy_id: uuid.UUID, uow: UoW, _: Supervisor) -> Response:
    async with uow:
        policy = await service.get_policy(uow, policy_id)
        policy.deleted_at = datetime.now(UTC)
    return Response(status_code=204)


def _read(row: BusinessCalendar) -> CalendarRead:
    return CalendarRead(
        timezone=row.timezone,
        weekly_hours={
            d: [Span(start=a, end=b) for a, b in spans] for d, spans in row.weekly_hours.items()
        },
        holidays=[date.fromisoformat(h) for h in row.holidays],
    )


@router.put(
    "/v1/business-calendar",
    response_model=CalendarRead,
    summary="The tenant's business hours (time zone, weekly hours, holidays)",
)
async def put_calendar(body: CalendarIn, uow: UoW, _: Supervisor) -> CalendarRead:
    weekly: dict[str, list[list[str]]] = {
        day: [[s.start.isoformat(), s.end.isoformat()] for s in spans]
        for day, spans in body.weekly_hours.items()
    }
    holidays = sorted({h.isoformat() for h in body.holidays})
    async with uow:
        row = await uow.session.scalar(select(BusinessCalendar).with_for_update())
        if row is None:
            row = BusinessCalendar(tenant_id=uow.tenant_id)
            uow.session.add(row)
        row.timezone, row.weekly_hours, row.holidays = body.timezone, weekly, holidays
        row.updated_at = datetime.now(UTC)
        await uow.session.flush()
        return _read(row)


@router.get("/v1/business-calendar", response_model=CalendarRead, summary="Business hours")
async def get_calendar(uow: UoW, _: Reader) -> CalendarRead:
    async with uow:
        row = await uow.session.scalar(select(BusinessCalendar))
        if row is None:
            raise NotFound("No business calendar: SLA clocks run around the clock.")
        return _read(row)
