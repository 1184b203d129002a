"""Tickets end to end: requester matching through contacts, workflow, messages and events."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.tickets.conftest import Desk, open_ticket, tickets_events


async def test_unknown_email_creates_the_person_in_contacts_once(
    desk: httpx.AsyncClient, api: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    first = await open_ticket(desk)
    second = await open_ticket(desk, subject="Still broken", channel="email")
    assert first["requester_id"] == second["requester_id"]
    assert first["status"] == "new" and first["reference"].startswith("[#")

    people = (await api.get("/v1/people", params={"q": "ada@example.com"})).json()["items"]
    assert [p["id"] for p in people] == [first["requester_id"]]

    events = await tickets_events(tickets_owner, tenant)
    assert [e["type"] for e in events] == ["crm.ticket.created", "crm.ticket.created"]
    assert events[0]["key"] == first["requester_id"]


async def test_workflow_allows_only_valid_transitions(desk: httpx.AsyncClient) -> None:
    ticket = await open_ticket(desk)
    url = f"/v1/tickets/{ticket['id']}/status"
    bad = await desk.post(url, json={"status": "closed"})
    assert bad.status_code == 409
    assert bad.headers["content-type"] == "application/problem+json"
    assert "closed" not in bad.json()["allowed"]
    for status in ("open", "pending", "solved", "closed"):
        response = await desk.post(url, json={"status": status})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    reopen = await desk.post(url, json={"status": "open"})
    assert reopen.status_code == 409
    note = await desk.post(f"/v1/tickets/{ticket['id']}/messages", json={"body": "late"})
    assert note.status_code == 409


async def test_reply_and_note_publish_message_and_interaction(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    ticket = await open_ticket(desk)
    reply = await desk.post(
        f"/v1/tickets/{ticket['id']}/messages", json={"body": "We are on it", "public": True}
    )
    assert reply.status_code == 201
    note = await desk.post(
        f"/v1/tickets/{ticket['id']}/messages", json={"body": "check toner", "public": False}
    )
    assert note.json()["direction"] == "internal"
    got = (await desk.get(f"/v1/tickets/{ticket['id']}")).json()
    assert got["status"] == "open" and got["first_responded_at"] is not None

    events = await tickets_events(tickets_owner, tenant)
    messages = [e for e in events if e["type"] == "crm.ticket.message_added"]
    interactions = [e for e in events if e["type"] == "crm.interaction.logged"]
    assert [(m["data"]["public"], m["data"]["direction"]) for m in messages] == [
        (True, "outbound"),
        (False, "internal"),
    ]
    assert [i["data"]["source"]["entity"] for i in interactions] == ["ticket_message"] * 2
    assert interactions[0]["data"]["channel"] == "web"
    assert {e["type"] for e in events} >= {"crm.ticket.status_changed"}


async def test_bad_input_is_a_problem_and_writes_nothing(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    response = await desk.post(
        "/v1/tickets",
        json={"subject": "", "requester": {"email": "not-an-email"}, "priority": "asap"},
    )
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/subject", "/requester/email", "/priority"} <= pointers
    assert await tickets_events(tickets_owner, tenant) == []


async def test_tenants_do_not_see_each_other(desk_for: Desk, tenant: str) -> None:
    mine = await open_ticket(desk_for(tenant))
    other = desk_for(f"{tenant}-other")
    assert (await other.get(f"/v1/tickets/{mine['id']}")).status_code == 404
    assert (await other.get("/v1/tickets")).json()["items"] == []
