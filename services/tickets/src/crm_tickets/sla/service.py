"""SLA: choosing a policy, running the per-ticket timers (start, pause while pending, resume,
stop), and the state shown on a ticket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from crm_shared.errors import NotFound
from crm_shared.uow import UnitOfWork
from crm_tickets.sla.calendar import ALWAYS, Calendar
from crm_tickets.sla.models import BusinessCalendar, SlaPolicy, SlaTimer
from crm_tickets.tickets.models import Ticket

TARGETS = ("first_response", "next_response", "resolution")
PRIORITIES = ("low", "normal", "high", "urgent")


def now() -> datetime:
    return datetime.now(UTC)


async def choose_policy(uow: UnitOfWork, priority: str, value_tier: str | None) -> SlaPolicy | None:
    """The most specific policy: tier and priority > tier > priority > catch-all. A key
    customer's ticket thus gets the tighter policy written for key customers."""
    policies = (
        await uow.session.scalars(select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None)))
    ).all()
    best: tuple[int, SlaPolicy] | None = None
    for p in policies:
        if p.priority not in (None, priority) or p.value_tier not in (None, value_tier):
            continue
        score = (2 if p.value_tier else 0) + (1 if p.priority else 0)
        if best is None or score > best[0] or (score == best[0] and p.id < best[1].id):
            best = (score, p)
    return best[1] if best else None


async def settle(
    uow: UnitOfWork, priority: str, value_tier: str | None
) -> tuple[str, SlaPolicy | None]:
    """The ticket's priority and policy: the policy chosen for them may raise the priority to
    its minimum (key customers get priority service), and the raised priority may in turn
    have a more specific policy."""
    policy = await choose_policy(uow, priority, value_tier)
    floor = policy.minimum_priority if policy is not None else None
    if floor is not None and PRIORITIES.index(floor) > PRIORITIES.index(priority):
        priority = floor
        policy = await choose_policy(uow, priority, value_tier)
    return priority, policy


async def tenant_calendar(uow: UnitOfWork) -> Calendar:
    row = await uow.session.scalar(select(BusinessCalendar))
    if row is None:
        return ALWAYS
    return Calendar.from_config(row.timezone, row.weekly_hours, row.holidays)


def _budget(policy: SlaPolicy, target: str) -> int | None:
    minutes: int | None = getattr(policy, f"{target}_minutes")
    return minutes * 60 if minutes is not None else None


def _schedule(timer: SlaTimer, cal: Calendar, at: datetime) -> None:
    """Set warn_at / due_at of a running timer from what is left of its budget."""
    clock = cal if timer.business_hours else ALWAYS
    timer.running_since = at
    timer.due_at = clock.add(at, timer.budget_s - timer.consumed_s)
    if timer.warned_at is None:
        timer.warn_at = clock.add(
            at, max(timer.budget_s * timer.warning_share - timer.consumed_s, 0)
        )


def _consume(timer: SlaTimer, cal: Calendar, at: datetime) -> None:
    if timer.running_since is not None:
        clock = cal if timer.business_hours else ALWAYS
        timer.consumed_s += clock.seconds_between(timer.running_since, at)


async def start_timer(
    uow: UnitOfWork, ticket: Ticket, policy: SlaPolicy, target: str, at: datetime, cycle: int = 0
) -> SlaTimer | None:
    budget = _budget(policy, target)
    if budget is None:
        return None
    timer = SlaTimer(
        tenant_id=uow.tenant_id,
        ticket_id=ticket.id,
        contact_id=ticket.requester_id,
        target=target,
        cycle=cycle,
        budget_s=budget,
        consumed_s=0.0,
        warning_share=policy.warning_share,
        business_hours=policy.business_hours,
    )
    _schedule(timer, await tenant_calendar(uow), at)
    uow.session.add(timer)
    return timer


async def open_timers(uow: UnitOfWork, ticket_id: uuid.UUID) -> list[SlaTimer]:
    rows = await uow.session.scalars(
        select(SlaTimer)
        .where(
            SlaTimer.tenant_id == uow.tenant_id,
            SlaTimer.ticket_id == ticket_id,
            SlaTimer.stopped_at.is_(None),
        )
        .order_by(SlaTimer.id)
        .with_for_update()
    )
    return list(rows.all())


async def stop(uow: UnitOfWork, ticket_id: uuid.UUID, target: str, at: datetime) -> None:
    """The target was reached (first reply, next reply, solved): the timer stops; it was met
    if it stopped before its due instant (working time consumed within the budget)."""
    cal = await tenant_calendar(uow)
    for timer in await open_timers(uow, ticket_id):
        if timer.target == target:
            _consume(timer, cal, at)
            timer.stopped_at = at
            timer.met = timer.breached_at is None and timer.consumed_s <= timer.budget_s
            timer.running_since = None


async def stop_all(uow: UnitOfWork, ticket_id: uuid.UUID, at: datetime) -> None:
    for target in TARGETS:
        await stop(uow, ticket_id, target, at)


async def pause(uow: UnitOfWork, ticket_id: uuid.UUID, at: datetime) -> None:
    """Pending: the clock stops; nothing can warn or breach until it runs again."""
    cal = await tenant_calendar(uow)
    for timer in await open_timers(uow, ticket_id):
        if timer.running_since is not None:
            _consume(timer, cal, at)
            timer.running_since = None
            timer.due_at = None
            timer.warn_at = None


async def resume(uow: UnitOfWork, ticket_id: uuid.UUID, at: datetime) -> None:
    cal = await tenant_calendar(uow)
    for timer in await open_timers(uow, ticket_id):
        if timer.running_since is None:
            _schedule(timer, cal, at)


async def timers_of(uow: UnitOfWork, ticket_id: uuid.UUID) -> list[SlaTimer]:
    rows = await uow.session.scalars(
        select(SlaTimer)
        .where(SlaTimer.tenant_id == uow.tenant_id, SlaTimer.ticket_id == ticket_id)
        .order_by(SlaTimer.id)
    )
    return list(rows.all())


async def get_policy(uow: UnitOfWork, policy_id: uuid.UUID) -> SlaPolicy:
    policy = await uow.session.scalar(
        select(SlaPolicy).where(SlaPolicy.id == policy_id, SlaPolicy.deleted_at.is_(None))
    )
    if policy is None:
        raise NotFound(f"No SLA policy {policy_id}.")
    return policy


async def apply_policy(uow: UnitOfWork, ticket: Ticket, at: datetime) -> None:
    """Choose the policy again (the priority or the customer's value tier changed): running
    and paused targets take the new budgets, keeping the working time already used."""
    ticket.priority, policy = await settle(uow, ticket.priority, ticket.value_tier)
    if policy is None or policy.id == ticket.sla_policy_id:
        return
    ticket.sla_policy_id = policy.id
    cal = await tenant_calendar(uow)
    for timer in await open_timers(uow, ticket.id):
        budget = _budget(policy, timer.target)
        if budget is None:
            continue
        running = timer.running_since is not None
        if running:
            _consume(timer, cal, at)
        timer.budget_s = budget
        timer.warning_share = policy.warning_share
        timer.business_hours = policy.business_hours
        if running:
            _schedule(timer, cal, at)
