"""Reopening a solved ticket: who gets it back, which SLA clocks run again, what is published."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.tickets.conftest import open_ticket, set_tier, tickets_events
from tests.tickets.test_queues import queue


async def solve(desk: httpx.AsyncClient, ticket: dict[str, Any]) -> None:
    await desk.post(f"/v1/tickets/{ticket['id']}/messages", json={"body": "Fixed, I think."})
    solved = await desk.post(f"/v1/tickets/{ticket['id']}/status", json={"status": "solved"})
    assert solved.json()["status"] == "solved", solved.text


async def reopen(desk: httpx.AsyncClient, ticket: dict[str, Any]) -> dict[str, Any]:
    response = await desk.post(f"/v1/tickets/{ticket['id']}/status", json={"status": "open"})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def assignments(owner: AsyncEngine, tenant: str, ticket_id: str) -> list[str]:
    return [
        e["data"]["assignee_id"]
        for e in await tickets_events(owner, tenant)
        if e["type"] == "crm.ticket.assigned" and e["data"]["ticket_id"] == ticket_id
    ]


async def test_back_to_the_previous_agent_when_they_have_room(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    queue_id = await queue(desk, "Support", "round_robin", {"ann": 2, "bob": 2})
    ticket = await open_ticket(desk, queue_id=queue_id)
    assert ticket["assignee_id"] == "ann"
    await solve(desk, ticket)
    await open_ticket(desk, queue_id=queue_id)  # bob's turn in the rotation

    reopened = await reopen(desk, ticket)
    assert reopened["status"] == "open" and reopened["solved_at"] is None
    assert reopened["assignee_id"] == "ann"  # not the round robin's next, bob
    assert await assignments(tickets_owner, tenant, ticket["id"]) == ["ann", "ann"]
    changes = [
        (e["data"]["from_status"], e["data"]["to_status"])
        for e in await tickets_events(tickets_owner, tenant)
        if e["type"] == "crm.ticket.status_changed" and e["data"]["ticket_id"] == ticket["id"]
    ]
    assert changes[-1] == ("solved", "open")


async def test_through_the_queue_when_the_agent_is_full_or_gone(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    queue_id = await queue(desk, "Billing", "least_busy", {"ann": 1, "bob": 3})
    first = await open_ticket(desk, queue_id=queue_id)
    assert first["assignee_id"] == "ann"
    await solve(desk, first)
    taken = await open_ticket(desk, queue_id=queue_id)
    assert taken["assignee_id"] == "ann"  # ann's one place is taken again
    assert (await reopen(desk, first))["assignee_id"] == "bob"

    await solve(desk, first)
    assert (await desk.delete(f"/v1/queues/{queue_id}/members/bob")).status_code == 204
    await desk.post(f"/v1/tickets/{taken['id']}/status", json={"status": "solved"})
    assert (await reopen(desk, first))["assignee_id"] == "ann"  # bob left the queue
    assert await assignments(tickets_owner, tenant, first["id"]) == ["ann", "bob", "ann"]


async def test_nobody_free_leaves_it_waiting_in_the_queue(desk: httpx.AsyncClient) -> None:
    queue_id = await queue(desk, "Small", "round_robin", {"ann": 1})
    ticket = await open_ticket(desk, queue_id=queue_id)
    await solve(desk, ticket)
    busy = await open_ticket(desk, queue_id=queue_id)
    assert busy["assignee_id"] == "ann"
    reopened = await reopen(desk, ticket)
    assert reopened["assignee_id"] is None and reopened["queue_id"] == queue_id


async def test_a_customer_reply_restarts_the_clocks_under_the_current_policy(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    await desk.post(
        "/v1/sla-policies",
        json={
            "name": "standard",
            "first_response_minutes": 240,
            "next_response_minutes": 240,
            "resolution_minutes": 2400,
            "business_hours": False,
        },
    )
    key = await desk.post(
        "/v1/sla-policies",
        json={
            "name": "key customers",
            "value_tier": "key",
            "first_response_minutes": 30,
            "next_response_minutes": 30,
            "resolution_minutes": 480,
            "business_hours": False,
        },
    )
    ticket = await open_ticket(desk)
    await solve(desk, ticket)
    # While the ticket was solved, the customer became a key customer.
    await set_tier(tickets_app, tenant, ticket["requester_id"], "key")

    email = {
        "from": "ada@example.com",
        "subject": f"Re: {ticket['reference']} it is broken again",
        "text": "Same error since this morning.",
        "message_id": f"<{uuid.uuid4()}@mail>",
    }
    assert (await desk.post("/v1/intake/email", json=email)).status_code == 201
    reopened = (await desk.get(f"/v1/tickets/{ticket['id']}")).json()
    assert reopened["status"] == "open"
    assert reopened["value_tier"] == "key" and reopened["sla_policy_id"] == key.json()["id"]
    running = {
        t["target"]: (t["cycle"], t["budget_seconds"])
        for t in reopened["sla"]
        if t["state"] == "running"
    }
    assert running == {"resolution": (1, 480 * 60), "next_response": (1, 30 * 60)}
    assert reopened["csat_token"] is None  # rating waits for the next solve


async def test_solved_without_a_reply_and_reopened_waits_for_a_first_response(
    desk: httpx.AsyncClient,
) -> None:
    await desk.post(
        "/v1/sla-policies",
        json={"name": "p", "first_response_minutes": 60, "business_hours": False},
    )
    ticket = await open_ticket(desk)
    await desk.post(f"/v1/tickets/{ticket['id']}/status", json={"status": "solved"})
    await desk.post(
        f"/v1/tickets/{ticket['id']}/messages",
        json={"body": "You never answered.", "direction": "inbound"},
    )
    timers = (await desk.get(f"/v1/tickets/{ticket['id']}")).json()["sla"]
    assert [(t["target"], t["cycle"], t["state"]) for t in timers] == [
        ("first_response", 0, "met"),
        ("first_response", 1, "running"),
    ]
    await desk.post(f"/v1/tickets/{ticket['id']}/messages", json={"body": "Sorry! Looking."})
    timers = (await desk.get(f"/v1/tickets/{ticket['id']}")).json()["sla"]
    assert {t["state"] for t in timers} == {"met"}
