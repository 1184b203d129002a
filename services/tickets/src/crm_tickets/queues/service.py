"""Queues, members, and automatic assignment (round robin or least busy, within capacity)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from crm_shared.errors import Conflict, NotFound
from crm_shared.uow import UnitOfWork
from crm_tickets.queues.models import Queue, QueueMember
from crm_tickets.tickets.models import Ticket

ACTIVE = ("new", "open", "pending", "on_hold")


async def get_queue(uow: UnitOfWork, queue_id: uuid.UUID, *, for_update: bool = False) -> Queue:
    query = select(Queue).where(Queue.id == queue_id, Queue.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    queue = await uow.session.scalar(query)
    if queue is None:
        raise NotFound(f"No queue {queue_id}.")
    return queue


async def create_queue(uow: UnitOfWork, name: str, strategy: str) -> Queue:
    if await uow.session.scalar(select(Queue.id).where(Queue.name == name)):
        raise Conflict(f"A queue named {name!r} exists.")
    queue = Queue(tenant_id=uow.tenant_id, name=name, strategy=strategy)
    uow.session.add(queue)
    await uow.session.flush()
    return queue


async def members(uow: UnitOfWork, queue_id: uuid.UUID) -> list[QueueMember]:
    rows = await uow.session.scalars(
        select(QueueMember).where(QueueMember.queue_id == queue_id).order_by(QueueMember.agent_id)
    )
    return list(rows.all())


async def set_member(
    uow: UnitOfWork, queue_id: uuid.UUID, agent_id: str, capacity: int, active: bool
) -> QueueMember:
    await get_queue(uow, queue_id)
    member = await uow.session.scalar(
        select(QueueMember).where(
            QueueMember.queue_id == queue_id, QueueMember.agent_id == agent_id
        )
    )
    if member is None:
        member = QueueMember(tenant_id=uow.tenant_id, queue_id=queue_id, agent_id=agent_id)
        uow.session.add(member)
    member.capacity, member.active = capacity, active
    await uow.session.flush()
    return member


async def remove_member(uow: UnitOfWork, queue_id: uuid.UUID, agent_id: str) -> None:
    member = await uow.session.scalar(
        select(QueueMember).where(
            QueueMember.queue_id == queue_id, QueueMember.agent_id == agent_id
        )
    )
    if member is None:
        raise NotFound(f"{agent_id} is not a member of queue {queue_id}.")
    await uow.session.delete(member)


async def agent_loads(
    uow: UnitOfWork, agent_ids: list[str], *, excluding: uuid.UUID | None = None
) -> dict[str, int]:
    """Active tickets per agent (`excluding` one being assigned, whatever its stored status)."""
    query = (
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(agent_ids), Ticket.status.in_(ACTIVE))
        .group_by(Ticket.assignee_id)
    )
    if excluding is not None:
        query = query.where(Ticket.id != excluding)
    rows = await uow.session.execute(query)
    loads = dict.fromkeys(agent_ids, 0)
    loads.update({str(r[0]): int(r[1]) for r in rows})
    return loads


async def pick_agent(
    uow: UnitOfWork, queue_id: uuid.UUID, *, excluding: uuid.UUID | None = None
) -> str | None:
    """The next agent of the queue with room, or None (the ticket waits in the queue).
    The queue row is locked, so concurrent creations take turns."""
    queue = await get_queue(uow, queue_id, for_update=True)
    if queue.strategy == "manual":
        return None
    candidates = [m for m in await members(uow, queue_id) if m.active]
    if not candidates:
        return None
    loads = await agent_loads(uow, [m.agent_id for m in candidates], excluding=excluding)
    free = [m for m in candidates if loads[m.agent_id] < m.capacity]
    if not free:
        return None
    if queue.strategy == "least_busy":
        chosen = min(free, key=lambda m: (loads[m.agent_id] / m.capacity, m.agent_id))
    else:
        after = [m for m in free if queue.last_assigned is None or m.agent_id > queue.last_assigned]
        chosen = (after or free)[0]
    queue.last_assigned = chosen.agent_id
    return chosen.agent_id


async def has_room(
    uow: UnitOfWork, queue_id: uuid.UUID, agent_id: str, *, excluding: uuid.UUID | None = None
) -> bool:
    """Whether the agent is still an active member of the queue, below their capacity. The
    queue row is locked, as when picking, so two assignments cannot both take the last place."""
    await get_queue(uow, queue_id, for_update=True)
    member = await uow.session.scalar(
        select(QueueMember).where(
            QueueMember.queue_id == queue_id,
            QueueMember.agent_id == agent_id,
            QueueMember.active.is_(True),
        )
    )
    if member is None:
        return False
    loads = await agent_loads(uow, [agent_id], excluding=excluding)
    return loads[agent_id] < member.capacity


async def queues_of(uow: UnitOfWork, agent_id: str) -> list[uuid.UUID]:
    rows = await uow.session.scalars(
        select(QueueMember.queue_id).where(QueueMember.agent_id == agent_id)
    )
    return list(rows.all())
