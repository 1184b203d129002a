"""Queues: automatic assignment (round robin, least busy, capacity), reassignment, and who
sees which tickets."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.tickets.conftest import Desk, open_ticket, tickets_events


async def queue(desk: httpx.AsyncClient, name: str, strategy: str, members: dict[str, int]) -> str:
    created = await desk.post("/v1/queues", json={"name": name, "strategy": strategy})
    assert created.status_code == 201, created.text
    queue_id = str(created.json()["id"])
    for agent, capacity in members.items():
        put = await desk.put(f"/v1/queues/{queue_id}/members/{agent}", json={"capacity": capacity})
        assert put.status_code == 200
    return queue_id


async def test_round_robin_respects_capacity(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    queue_id = await queue(desk, "Support", "round_robin", {"ann": 2, "bob": 1, "cid": 5})
    assignees = [(await open_ticket(desk, queue_id=queue_id))["assignee_id"] for _ in range(6)]
    # bob is full after one ticket, ann after two; cid takes the rest.
    assert assignees == ["ann", "bob", "cid", "ann", "cid", "cid"]
    members = (await desk.get(f"/v1/queues/{queue_id}/members")).json()
    assert {m["agent_id"]: m["open_tickets"] for m in members} == {"ann": 2, "bob": 1, "cid": 3}
    assigned = [
        e for e in await tickets_events(tickets_owner, tenant) if e["type"] == "crm.ticket.assigned"
    ]
    assert [e["data"]["assignee_id"] for e in assigned] == assignees


async def test_least_busy_and_full_queue(desk: httpx.AsyncClient) -> None:
    queue_id = await queue(desk, "Billing", "least_busy", {"ann": 1, "bob": 1})
    busy = await open_ticket(desk, assignee_id="ann")  # ann already has one ticket
    assert busy["assignee_id"] == "ann"
    first = await open_ticket(desk, queue_id=queue_id)
    assert first["assignee_id"] == "bob"
    waiting = await open_ticket(desk, queue_id=queue_id)
    assert waiting["assignee_id"] is None  # everyone is at capacity: it waits in the queue
    # Solving frees capacity; reassignment to the queue picks the free agent.
    await desk.post(f"/v1/tickets/{busy['id']}/status", json={"status": "solved"})
    other = await queue(desk, "Other", "round_robin", {})
    moved = await desk.post(f"/v1/tickets/{waiting['id']}/assignment", json={"queue_id": other})
    assert moved.json()["queue_id"] == other and moved.json()["assignee_id"] is None
    back = await desk.post(f"/v1/tickets/{waiting['id']}/assignment", json={"queue_id": queue_id})
    assert back.json()["assignee_id"] == "ann"
    manual = await desk.post(f"/v1/tickets/{waiting['id']}/assignment", json={"assignee_id": "zed"})
    assert manual.json()["assignee_id"] == "zed"


async def test_agents_see_their_queues_and_admins_all(
    desk: httpx.AsyncClient, desk_for: Desk, tenant: str
) -> None:
    mine = await queue(desk, "Mine", "manual", {"ann": 10})
    theirs = await queue(desk, "Theirs", "manual", {"bob": 10})
    in_mine = await open_ticket(desk, queue_id=mine)
    in_theirs = await open_ticket(desk, queue_id=theirs)
    assigned_to_ann = await open_ticket(desk, queue_id=theirs, assignee_id="ann")
    ann = desk_for(tenant, roles=["agent"], sub="ann")
    seen = {t["id"] for t in (await ann.get("/v1/tickets")).json()["items"]}
    assert seen == {in_mine["id"], assigned_to_ann["id"]}
    assert (await ann.get(f"/v1/tickets/{in_theirs['id']}")).status_code == 404
    everything = {t["id"] for t in (await desk.get("/v1/tickets")).json()["items"]}
    assert everything == {in_mine["id"], in_theirs["id"], assigned_to_ann["id"]}
    assert (await ann.post("/v1/queues", json={"name": "x"})).status_code == 403
