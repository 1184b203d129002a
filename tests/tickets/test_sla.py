"""SLA: policy choice, pausing while pending, the scheduler's exactly-once warnings and
breaches (two replicas and a restart), escalation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.uow import UnitOfWork
from crm_tickets.sla.scheduler import Scheduler, scan
from crm_tickets.tickets import service
from crm_tickets.tickets.schemas import Requester, TicketCreate
from tests.conftest import eventually
from tests.tickets.conftest import open_ticket, set_tier, tickets_events

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Warsaw


async def policy(desk: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "standard", "first_response_minutes": 60, "resolution_minutes": 480} | fields
    response = await desk.post("/v1/sla-policies", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def uow_for(app: FastAPI, tenant: str) -> UnitOfWork:
    return UnitOfWork(
        app.state.sessionmaker, tenant_id=tenant, actor="agent-1", source="/crm/tickets"
    )


async def create_at(app: FastAPI, tenant: str, at: datetime, **fields: Any) -> uuid.UUID:
    requester = uuid.uuid4()
    data = TicketCreate(subject="Slow", requester=Requester(person_id=requester), **fields)
    async with uow_for(app, tenant) as uow:
        ticket = await service.create_ticket(uow, data, requester, at=at)
        return ticket.id


async def test_the_clock_pauses_while_pending(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    await policy(desk, business_hours=False, first_response_minutes=None)
    ticket_id = await create_at(tickets_app, tenant, T0)
    for minutes, status in ((10, "pending"), (70, "open")):
        async with uow_for(tickets_app, tenant) as uow:
            ticket = await service.get_ticket(uow, ticket_id, for_update=True)
            await service.change_status(uow, ticket, status, at=T0 + timedelta(minutes=minutes))
        if status == "pending":
            paused = (await desk.get(f"/v1/tickets/{ticket_id}")).json()["sla"]
            assert [(t["target"], t["state"], t["due_at"]) for t in paused] == [
                ("resolution", "paused", None)
            ]
            assert paused[0]["consumed_seconds"] == 600
    timer = (await desk.get(f"/v1/tickets/{ticket_id}")).json()["sla"][0]
    # 8 hours of budget, 10 minutes used before the pause, resumed at T0+70min.
    assert timer["state"] == "running"
    assert datetime.fromisoformat(timer["due_at"]) == T0 + timedelta(minutes=70 + 470)
    # Nothing is due during the pause: a scan at the original due instant emits nothing
    # for this ticket's breach.
    await scan(tickets_app.state.sessionmaker, "/crm/tickets", at=T0 + timedelta(minutes=481))
    after = (await desk.get(f"/v1/tickets/{ticket_id}")).json()["sla"][0]
    assert after["warned"] and not after["breached"]


async def test_business_hours_apply_to_the_targets(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    hours = {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
    calendar = await desk.put(
        "/v1/business-calendar",
        json={"timezone": "Europe/Warsaw", "weekly_hours": hours, "holidays": ["2026-11-23"]},
    )
    assert calendar.status_code == 200, calendar.text
    await policy(desk, first_response_minutes=120, resolution_minutes=None)
    friday_four = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 16:00 in Warsaw
    ticket_id = await create_at(tickets_app, tenant, friday_four)
    timer = (await desk.get(f"/v1/tickets/{ticket_id}")).json()["sla"][0]
    # Weekend and Monday's holiday skipped: Tuesday 10:00 Warsaw.
    assert datetime.fromisoformat(timer["due_at"]) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_policy_follows_priority_and_tier(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    default = await policy(desk, name="default")
    urgent = await policy(desk, name="urgent", priority="urgent", first_response_minutes=15)
    ticket = await open_ticket(desk, priority="urgent")
    assert ticket["sla_policy_id"] == urgent["id"]
    assert {t["target"]: t["budget_seconds"] for t in ticket["sla"]} == {
        "first_response": 900,
        "resolution": 480 * 60,
    }
    normal = await open_ticket(desk)
    assert normal["sla_policy_id"] == default["id"]
    # Raising the priority moves an open ticket to the urgent policy.
    raised = await desk.patch(
        f"/v1/tickets/{normal['id']}",
        json={"priority": "urgent"},
        headers={"If-Match": f'"{normal["version"]}"'},
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["sla_policy_id"] == urgent["id"]
    first = next(t for t in raised.json()["sla"] if t["target"] == "first_response")
    assert first["budget_seconds"] == 900
    stale = await desk.patch(
        f"/v1/tickets/{normal['id']}",
        json={"priority": "low"},
        headers={"If-Match": f'"{normal["version"]}"'},
    )
    assert stale.status_code == 412


async def test_two_schedulers_and_a_restart_emit_each_warning_and_breach_once(
    desk: httpx.AsyncClient,
    tickets_app: FastAPI,
    tickets_owner: AsyncEngine,
    tenant: str,
) -> None:
    await policy(desk, business_hours=False, first_response_minutes=1, resolution_minutes=None)
    now = datetime.now(UTC)
    tickets = [await create_at(tickets_app, tenant, now - timedelta(minutes=5)) for _ in range(60)]
    maker = tickets_app.state.sessionmaker

    def replica(name: str) -> tuple[Scheduler, asyncio.Task[None]]:
        s = Scheduler(maker, "/crm/tickets", interval_s=0.01, name=name, batch=3)
        return s, asyncio.create_task(s.run())

    a, task_a = replica("a")
    b, task_b = replica("b")
    await asyncio.sleep(0.05)
    a.stop()  # replica a goes down mid-run ...
    await task_a
    a2, task_a2 = replica("a-restarted")  # ... and comes back

    async def done() -> bool:
        async with tickets_owner.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM sla_emissions WHERE tenant_id = :t"), {"t": tenant}
            )
        return bool(count == 2 * len(tickets))

    await eventually(done)
    await asyncio.sleep(0.3)  # give a duplicate every chance to appear
    for s, task in ((b, task_b), (a2, task_a2)):
        s.stop()
        await task
    assert await scan(maker, "/crm/tickets") == 0  # nothing left anywhere

    events = await tickets_events(tickets_owner, tenant)
    warnings = [e["data"]["ticket_id"] for e in events if e["type"] == "crm.ticket.sla_warning"]
    breaches = [e["data"]["ticket_id"] for e in events if e["type"] == "crm.ticket.sla_breached"]
    assert sorted(warnings) == sorted(str(t) for t in tickets)
    assert sorted(breaches) == sorted(str(t) for t in tickets)
    async with tickets_owner.connect() as conn:
        by: dict[str, int] = dict(
            (
                await conn.execute(
                    text(
                        "SELECT scheduler, count(*) FROM sla_emissions WHERE tenant_id = :t "
                        "GROUP BY scheduler"
                    ),
                    {"t": tenant},
                )
            ).all()
        )
    assert sum(by.values()) == 120
    assert len(by) >= 2, by  # the work really was shared
    one = (await desk.get(f"/v1/tickets/{tickets[0]}")).json()["sla"][0]
    assert one["state"] == "breached" and one["warned"] and one["breached"]


async def test_a_breach_escalates_once(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tickets_owner: AsyncEngine, tenant: str
) -> None:
    escalation = (await desk.post("/v1/queues", json={"name": "Tier 2"})).json()
    await desk.put(f"/v1/queues/{escalation['id']}/members/tess", json={"capacity": 5})
    await policy(
        desk,
        business_hours=False,
        first_response_minutes=1,
        resolution_minutes=None,
        escalate_priority=True,
        escalate_queue_id=escalation["id"],
    )
    urgent = await policy(
        desk, name="urgent", priority="urgent", first_response_minutes=1, resolution_minutes=60
    )
    ticket_id = await create_at(
        tickets_app, tenant, datetime.now(UTC) - timedelta(minutes=2), priority="high"
    )
    await scan(tickets_app.state.sessionmaker, "/crm/tickets")
    await scan(tickets_app.state.sessionmaker, "/crm/tickets")
    ticket = (await desk.get(f"/v1/tickets/{ticket_id}")).json()
    assert ticket["priority"] == "urgent"
    assert ticket["queue_id"] == escalation["id"]
    assert ticket["assignee_id"] == "tess"  # the escalation queue's rule assigned it
    # The urgent ticket runs on the urgent policy; the breached target stays breached.
    assert ticket["sla_policy_id"] == urgent["id"]
    [first] = [t for t in ticket["sla"] if t["target"] == "first_response"]
    assert first["state"] == "breached" and first["budget_seconds"] == 60
    events = await tickets_events(tickets_owner, tenant)
    escalated = [e for e in events if e["type"] == "crm.ticket.escalated"]
    assert len(escalated) == 1
    assert escalated[0]["data"]["from_priority"] == "high"
    assert escalated[0]["data"]["to_queue_id"] == escalation["id"]
    assigned = [e["data"]["assignee_id"] for e in events if e["type"] == "crm.ticket.assigned"]
    assert assigned == ["tess"]
    assert [e["type"] for e in events].count("crm.ticket.sla_breached") == 1


async def test_replies_meet_first_and_next_response(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    await policy(desk, business_hours=False, next_response_minutes=30)
    ticket = await open_ticket(desk)
    url = f"/v1/tickets/{ticket['id']}/messages"
    assert (await desk.post(url, json={"body": "Hello, looking"})).status_code == 201
    customer = {"body": "Any news?", "direction": "inbound"}
    assert (await desk.post(url, json=customer)).status_code == 201
    states = {
        (t["target"], t["cycle"]): t["state"]
        for t in (await desk.get(f"/v1/tickets/{ticket['id']}")).json()["sla"]
    }
    assert states == {
        ("first_response", 0): "met",
        ("resolution", 0): "running",
        ("next_response", 1): "running",
    }
    assert (await desk.post(url, json={"body": "Fixed"})).status_code == 201
    solved = await desk.post(f"/v1/tickets/{ticket['id']}/status", json={"status": "solved"})
    assert {t["state"] for t in solved.json()["sla"]} == {"met"}
    # The customer writes again: the ticket reopens with a new resolution clock.
    assert (await desk.post(url, json=customer)).status_code == 201
    reopened = (await desk.get(f"/v1/tickets/{ticket['id']}")).json()
    assert reopened["status"] == "open"
    running = {(t["target"], t["cycle"]) for t in reopened["sla"] if t["state"] == "running"}
    assert running == {("resolution", 1), ("next_response", 2)}


async def test_a_key_customer_gets_priority_not_only_targets(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    await policy(desk, name="standard")
    key = await policy(
        desk, name="key", value_tier="key", first_response_minutes=30, minimum_priority="high"
    )
    key_urgent = await policy(
        desk, name="key, urgent", value_tier="key", priority="urgent", first_response_minutes=10
    )
    waiting = await open_ticket(desk)
    assert waiting["priority"] == "normal"
    await set_tier(tickets_app, tenant, waiting["requester_id"], "key")

    # The open ticket and the next one are raised to the key policy's minimum priority ...
    raised = (await desk.get(f"/v1/tickets/{waiting['id']}")).json()
    assert (raised["priority"], raised["sla_policy_id"]) == ("high", key["id"])
    fresh = await open_ticket(desk, priority="low")
    assert (fresh["priority"], fresh["sla_policy_id"]) == ("high", key["id"])
    # ... never lowered, and an urgent one finds the key customers' urgent policy.
    urgent = await open_ticket(desk, priority="urgent")
    assert (urgent["priority"], urgent["sla_policy_id"]) == ("urgent", key_urgent["id"])
    lowered = await desk.patch(
        f"/v1/tickets/{fresh['id']}",
        json={"priority": "low"},
        headers={"If-Match": f'"{fresh["version"]}"'},
    )
    assert lowered.json()["priority"] == "high"
