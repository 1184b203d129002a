"""After the first reply: problems and their incidents, merging duplicates, CSAT, measures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import client
from tests.tickets.conftest import open_ticket, tickets_events


async def test_solving_a_problem_solves_its_incidents_with_a_public_message(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    problem = await open_ticket(desk, subject="Mail server down")
    incidents = [await open_ticket(desk, subject=f"No mail {i}") for i in range(2)]
    linked = await desk.post(
        f"/v1/tickets/{problem['id']}/incidents",
        json={"incident_ids": [i["id"] for i in incidents]},
    )
    assert linked.status_code == 200 and linked.json()["kind"] == "problem"
    self_link = await desk.post(
        f"/v1/tickets/{incidents[0]['id']}/incidents", json={"incident_ids": [problem["id"]]}
    )
    assert self_link.status_code == 422

    await desk.post(f"/v1/tickets/{problem['id']}/status", json={"status": "solved"})
    for incident in incidents:
        got = (await desk.get(f"/v1/tickets/{incident['id']}")).json()
        assert got["status"] == "solved" and got["problem_id"] == problem["id"]
        messages = (await desk.get(f"/v1/tickets/{incident['id']}/messages")).json()
        assert messages[-1]["public"] and problem["reference"] in messages[-1]["body"]
    solved = [
        e for e in await tickets_events(tickets_owner, tenant) if e["type"] == "crm.ticket.solved"
    ]
    assert len(solved) == 3


async def test_merging_a_duplicate_moves_its_conversation(
    desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    survivor = await open_ticket(desk)
    duplicate = await open_ticket(desk, subject="Printer broken (again)")
    await desk.post(
        f"/v1/tickets/{duplicate['id']}/messages", json={"body": "Same?", "direction": "inbound"}
    )
    merged = await desk.post(
        f"/v1/tickets/{duplicate['id']}/merge", json={"into_ticket_id": survivor["id"]}
    )
    assert merged.status_code == 200, merged.text
    gone = (await desk.get(f"/v1/tickets/{duplicate['id']}")).json()
    assert gone["status"] == "closed" and gone["merged_into_id"] == survivor["id"]
    bodies = [m["body"] for m in (await desk.get(f"/v1/tickets/{survivor['id']}/messages")).json()]
    assert bodies[0] == "Same?" and bodies[-1].startswith("Merged from")
    # Mail about the duplicate's reference lands on the survivor.
    reply = await desk.post(
        "/v1/intake/email",
        json={
            "from": "ada@example.com",
            "subject": f"Re: {duplicate['reference']}",
            "text": "hello?",
            "message_id": "<merge@x>",
        },
    )
    assert reply.json()["ticket_id"] == survivor["id"]
    again = await desk.post(
        f"/v1/tickets/{survivor['id']}/merge", json={"into_ticket_id": survivor["id"]}
    )
    assert again.status_code == 422
    types = [e["type"] for e in await tickets_events(tickets_owner, tenant)]
    assert types.count("crm.ticket.merged") == 1


async def test_csat_link_rates_once_without_login(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tickets_owner: AsyncEngine, tenant: str
) -> None:
    ticket = await open_ticket(desk)
    assert ticket["csat_token"] is None
    solved = (
        await desk.post(f"/v1/tickets/{ticket['id']}/status", json={"status": "solved"})
    ).json()
    token = solved["csat_token"]
    # The link reaches whoever writes to the customer through ticket.solved.
    [solved_event] = [
        e for e in await tickets_events(tickets_owner, tenant) if e["type"] == "crm.ticket.solved"
    ]
    assert solved_event["data"]["csat_token"] == token
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tickets_app), base_url="http://tickets"
    )
    async with anonymous:
        forged = await anonymous.post(f"/v1/csat/{token[:-2]}xx", json={"score": 5})
        assert forged.status_code == 404
        out_of_range = await anonymous.post(f"/v1/csat/{token}", json={"score": 6})
        assert out_of_range.status_code == 422
        rated = await anonymous.post(f"/v1/csat/{token}", json={"score": 4, "comment": "ok"})
        assert rated.status_code == 201, rated.text
        twice = await anonymous.post(f"/v1/csat/{token}", json={"score": 1})
        assert twice.status_code == 409
    events = [
        e for e in await tickets_events(tickets_owner, tenant) if e["type"] == "crm.csat.submitted"
    ]
    assert [e["data"]["score"] for e in events] == [4]


async def test_service_measures_per_queue(
    desk: httpx.AsyncClient, tickets_app: FastAPI, tenant: str
) -> None:
    await desk.post(
        "/v1/sla-policies",
        json={"name": "p", "first_response_minutes": 60, "business_hours": False},
    )
    queue_id = (await desk.post("/v1/queues", json={"name": "Q", "strategy": "manual"})).json()[
        "id"
    ]
    answered = await open_ticket(desk, queue_id=queue_id)
    await open_ticket(desk, queue_id=queue_id)  # still in the backlog
    await desk.post(f"/v1/tickets/{answered['id']}/messages", json={"body": "hi"})
    await desk.post(f"/v1/tickets/{answered['id']}/status", json={"status": "solved"})
    token = (await desk.get(f"/v1/tickets/{answered['id']}")).json()["csat_token"]
    async with client(tickets_app, tenant) as anyone:
        await anyone.post(f"/v1/csat/{token}", json={"score": 5})
    now = datetime.now(UTC)
    report = await desk.get(
        "/v1/reports/service",
        params={
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert report.status_code == 200, report.text
    [group] = report.json()["groups"]
    assert group["key"] == queue_id
    assert group["backlog"] == 1 and group["solved"] == 1
    assert group["sla_compliance"] == 1.0  # the first response was met
    assert group["csat_average"] == 5.0
    assert 0 <= group["first_response_seconds_avg"] < 60
    bad = await desk.get(
        "/v1/reports/service", params={"since": now.isoformat(), "until": now.isoformat()}
    )
    assert bad.status_code == 422
