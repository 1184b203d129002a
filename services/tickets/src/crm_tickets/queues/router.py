from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_shared.idempotency import idempotent
from crm_shared.web import UoW
from crm_tickets.permissions import Reader, Supervisor
from crm_tickets.queues import service
from crm_tickets.queues.schemas import MemberIn, MemberRead, QueueCreate, QueueRead

router = APIRouter(prefix="/v1/queues", tags=["queues"])
AgentId = Annotated[str, Path(min_length=1, max_length=100)]


@router.post("", status_code=201, response_model=QueueRead, summary="Create a queue")
async def create_queue(
    body: QueueCreate, request: Request, uow: UoW, _: Supervisor
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            queue = await service.create_queue(uow, body.name, body.strategy)
            return QueueRead.model_validate(queue), {"Location": f"/v1/queues/{queue.id}"}

        return await idempotent(uow, request, work)


@router.get("/{queue_id}/members", response_model=list[MemberRead], summary="Members and load")
async def list_members(queue_id: uuid.UUID, uow: UoW, _: Reader) -> list[MemberRead]:
    async with uow:
        await service.get_queue(uow, queue_id)
        rows = await service.members(uow, queue_id)
        loads = await service.agent_loads(uow, [m.agent_id for m in rows])
    return [
        MemberRead.model_validate(m).model_copy(update={"open_tickets": loads[m.agent_id]})
        for m in rows
    ]


@router.put(
    "/{queue_id}/members/{agent_id}", response_model=MemberRead, summary="Add or update a member"
)
async def put_member(
    queue_id: uuid.UUID, agent_id: AgentId, body: MemberIn, uow: UoW, _: Supervisor
) -> MemberRead:
    async with uow:
        member = await service.set_member(uow, queue_id, agent_id, body.capacity, body.active)
        return MemberRead.model_validate(member)


@router.delete("/{queue_id}/members/{agent_id}", status_code=204, summary="Remove a member")
async def delete_member(
    queue_id: uuid.UUID, agent_id: AgentId, uow: UoW, _: Supervisor
) -> Response:
    async with uow:
        await service.remove_member(uow, queue_id, agent_id)
    return Response(status_code=204)
