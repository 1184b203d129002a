"""Inbound channels: email threading, chat sessions, phone call logs."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.tickets.conftest import Desk, tickets_events


def email(**fields: Any) -> dict[str, Any]:
    return {
        "from": "Grace@Example.com",
        "from_name": "Grace Hopper",
        "subject": "Invoice missing",
        "text": "I did not get my invoice.",
        "message_id": "<m1@mail.example.com>",
    } | fields


async def test_email_threads_by_reference_and_by_headers(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str, api: httpx.AsyncClient
) -> None:
    first = await desk.post("/v1/intake/email", json=email())
    assert first.status_code == 201, first.text
    opened = first.json()
    assert opened["created"] is True

    # A reply quoting the reference in the subject (headers stripped by the client).
    by_subject = await desk.post(
        "/v1/intake/email",
        json=email(subject=f"RE: {opened['reference']} Invoice", message_id="<m2@x>"),
    )
    # A reply with only In-Reply-To, and one with only References.
    by_reply_to = await desk.post(
        "/v1/intake/email", json=email(subject="Re: hm", message_id="<m3@x>", in_reply_to="<m2@x>")
    )
    by_refs = await desk.post(
        "/v1/intake/email",
        json=email(
            subject="again", message_id="<m4@x>", references=["<zz@x>", "<m1@mail.example.com>"]
        ),
    )
    for response in (by_subject, by_reply_to, by_refs):
        assert response.status_code == 201
        assert response.json()["ticket_id"] == opened["ticket_id"]
        assert response.json()["created"] is False

    # The same message delivered twice by the provider is one message.
    again = await desk.post("/v1/intake/email", json=email(subject="again", message_id="<m4@x>"))
    assert again.json()["message_id"] == by_refs.json()["message_id"]

    # An unrelated email opens a new ticket.
    other = await desk.post(
        "/v1/intake/email", json=email(subject="New question", message_id="<n@x>")
    )
    assert other.json()["created"] is True
    assert other.json()["ticket_id"] != opened["ticket_id"]

    messages = (await desk.get(f"/v1/tickets/{opened['ticket_id']}/messages")).json()
    assert len(messages) == 4 and {m["direction"] for m in messages} == {"inbound"}
    events = await tickets_events(tickets_owner, tenant)
    logged = [e["data"] for e in events if e["type"] == "crm.interaction.logged"]
    assert len(logged) == 5
    assert {(i["channel"], i["direction"]) for i in logged} == {("email", "inbound")}
    # One person in contacts for grace, created over HTTP with the normalised address.
    people = (await api.get("/v1/people", params={"q": "grace@example.com"})).json()["items"]
    assert len(people) == 1 and people[0]["first_name"] == "Grace"


async def test_a_customer_reply_reopens_a_pending_ticket(desk: httpx.AsyncClient) -> None:
    opened = (await desk.post("/v1/intake/email", json=email(message_id="<p1@x>"))).json()
    url = f"/v1/tickets/{opened['ticket_id']}/status"
    assert (await desk.post(url, json={"status": "pending"})).status_code == 200
    await desk.post(
        "/v1/intake/email", json=email(subject=f"Re: {opened['reference']}", message_id="<p2@x>")
    )
    assert (await desk.get(f"/v1/tickets/{opened['ticket_id']}")).json()["status"] == "open"


async def test_chat_session_and_phone_call(
    desk: httpx.AsyncClient, desk_for: Desk, tenant: str
) -> None:
    chat = {"session_id": "s-1", "email": "kim@example.com", "text": "Hi, my order is late"}
    first = (await desk.post("/v1/intake/chat", json=chat)).json()
    second = (await desk.post("/v1/intake/chat", json=chat | {"text": "order 42"})).json()
    assert first["created"] and not second["created"]
    assert first["ticket_id"] == second["ticket_id"]

    call = {"phone": "+48 601 234 567", "summary": "Asked about delivery", "duration_s": 240}
    logged = (await desk.post("/v1/intake/phone", json=call)).json()
    assert logged["created"] is True
    follow_up = await desk.post(
        "/v1/intake/phone", json=call | {"ticket_id": logged["ticket_id"], "direction": "outbound"}
    )
    assert follow_up.json()["ticket_id"] == logged["ticket_id"]
    messages = (await desk.get(f"/v1/tickets/{logged['ticket_id']}/messages")).json()
    assert [m["channel"] for m in messages] == ["phone", "phone"]
    assert messages[0]["body"] == "Call (4 min): Asked about delivery"
    # The same caller is matched to the same person next time.
    again = (await desk.post("/v1/intake/phone", json=call)).json()
    ticket_a = (await desk.get(f"/v1/tickets/{logged['ticket_id']}")).json()
    ticket_b = (await desk.get(f"/v1/tickets/{again['ticket_id']}")).json()
    assert ticket_a["requester_id"] == ticket_b["requester_id"]

    agent = desk_for(tenant, roles=["agent"])
    assert (await agent.post("/v1/intake/chat", json=chat)).status_code == 403
    bad = await desk.post("/v1/intake/chat", json={"session_id": "s", "text": "who am i"})
    assert bad.status_code == 422
