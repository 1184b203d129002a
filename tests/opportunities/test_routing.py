"""Lead intake and routing: ordered rules, round robin fairness, capacity, least busy, manual
reassignment, and an audit trail plus an event for every assignment."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import outbox_events
from tests.opportunities.conftest import Api, ok
from tests.opportunities.helpers import make_team


async def rule(
    admin: httpx.AsyncClient, team: dict[str, Any], position: int, **conditions: Any
) -> str:
    body = {
        "name": f"r{position}",
        "position": position,
        "team_id": team["id"],
        "conditions": conditions,
    }
    return str((await ok(await admin.post("/v1/routing-rules", json=body), 201))["id"])


async def lead(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"first_name": "L"} | fields
    return dict(await ok(await api.post("/v1/leads", json=body), 201))


async def test_round_robin_over_1000_leads_is_even(admin: httpx.AsyncClient, api_for: Api) -> None:
    team = await make_team(admin, "PL", members={f"u{i}": None for i in range(4)})
    await rule(admin, team, 0, country=["PL"])
    integration = api_for(["integration"], "web")
    owners: Counter[str] = Counter()
    for batch in range(200):  # 5 concurrent intakes at a time
        results = await asyncio.gather(
            *[lead(integration, country="PL", email=f"l{batch}-{i}@x.example") for i in range(5)]
        )
        owners.update(r["owner_id"] for r in results)
    assert owners == {"u0": 250, "u1": 250, "u2": 250, "u3": 250}


async def test_capacity_is_respected_and_freed(admin: httpx.AsyncClient, api_for: Api) -> None:
    team = await make_team(admin, "Expo", members={"c1": 3, "c2": 5})
    await rule(admin, team, 0, source=["expo"])
    integration = api_for(["integration"], "web")
    results = await asyncio.gather(*[lead(integration, source="expo") for _ in range(12)])
    owners = Counter(r["owner_id"] for r in results)
    assert owners == {"c1": 3, "c2": 5, None: 4}
    queued = [r for r in results if r["owner_id"] is None]
    assert all(r["team_id"] == team["id"] for r in queued)  # the team's queue keeps them

    freed = next(r for r in results if r["owner_id"] == "c1")
    await ok(await admin.post(f"/v1/leads/{freed['id']}/disqualify", json={"reason": "spam"}))
    assert (await lead(integration, source="expo"))["owner_id"] == "c1"
    assert (await lead(integration, source="expo"))["owner_id"] is None


async def test_least_busy_and_rule_order(admin: httpx.AsyncClient, api_for: Api) -> None:
    busy = await make_team(admin, "Busy", members={"l1": None, "l2": None}, strategy="least_busy")
    fallback = await make_team(admin, "Rest", members={"r1": None})
    await rule(admin, fallback, 5)  # no conditions: catches everything the others do not
    await rule(admin, busy, 1, country=["DE"], company_size_min=50)
    for _ in range(3):
        await lead(admin, owner_id="l1")
    integration = api_for(["integration"], "web")
    got = [(await lead(integration, country="DE", company_size=100))["owner_id"] for _ in range(5)]
    assert got[:3] == ["l2", "l2", "l2"]  # l2 catches up with l1 first
    assert sorted(got[3:]) == ["l1", "l2"]
    small = await lead(integration, country="DE", company_size=10)
    assert small["owner_id"] == "r1"


async def test_assignments_are_audited_and_published(
    admin: httpx.AsyncClient, api_for: Api, opp_owner: AsyncEngine, tenant: str
) -> None:
    team = await make_team(admin, "A", manager="boss", members={"a1": None, "a2": None})
    rule_id = await rule(admin, team, 0)
    routed = await lead(api_for(["integration"], "web"), email="x@y.example", utm_source="ads")
    assert routed["owner_id"] == "a1"
    boss = api_for(["sales_manager"], "boss")
    moved = await ok(await boss.post(f"/v1/leads/{routed['id']}/assign", json={"owner_id": "a2"}))
    assert moved["owner_id"] == "a2"
    trail = await ok(await boss.get(f"/v1/leads/{routed['id']}/assignments"))
    assert [(t["owner_id"], t["reason"], t["rule_id"], t["assigned_by"]) for t in trail] == [
        ("a1", "round_robin", rule_id, "web"),
        ("a2", "manual", None, "boss"),
    ]
    events = [e for e in await outbox_events(opp_owner, tenant) if e["key"] == routed["id"]]
    assert [e["type"] for e in events] == [
        "crm.lead.created",
        "crm.lead.assigned",
        "crm.lead.assigned",
    ]
    assert events[0]["data"]["attribution"]["utm_source"] == "ads"
    assert events[1]["data"]["rule_id"] == rule_id and events[2]["data"]["owner_id"] == "a2"


async def test_duplicates_are_flagged_not_dropped(admin: httpx.AsyncClient) -> None:
    first = await lead(admin, email="Dup@Example.com")
    second = await lead(admin, email="dup@example.com")
    assert first["possible_duplicate"] is False
    assert second["possible_duplicate"] is True
    assert second["duplicate_of_lead_id"] == first["id"]
    flagged = await ok(await admin.get("/v1/leads", params={"possible_duplicate": "true"}))
    assert [x["id"] for x in flagged["items"]] == [second["id"]]


async def test_statuses_and_disqualify_reason(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    x = await lead(admin)
    assert x["status"] == "new"
    assert (await ok(await admin.post(f"/v1/leads/{x['id']}/status", json={"status": "working"})))[
        "status"
    ] == "working"
    no_reason = await admin.post(f"/v1/leads/{x['id']}/disqualify", json={})
    assert no_reason.status_code == 422
    dq = await ok(await admin.post(f"/v1/leads/{x['id']}/disqualify", json={"reason": "no budget"}))
    assert dq["status"] == "disqualified" and dq["disqualify_reason"] == "no budget"
    again = await admin.post(f"/v1/leads/{x['id']}/status", json={"status": "qualified"})
    assert again.status_code == 409
    events = await outbox_events(opp_owner, tenant)
    assert events[-1]["type"] == "crm.lead.disqualified"
    assert events[-1]["data"]["reason"] == "no budget"


async def test_team_tree_rejects_cycles(admin: httpx.AsyncClient) -> None:
    top = await make_team(admin, "Top")
    mid = await make_team(admin, "Mid", parent=top["id"])
    cycle = await admin.patch(
        f"/v1/teams/{top['id']}", json={"parent_id": mid["id"]}, headers={"If-Match": '"1"'}
    )
    assert cycle.status_code == 422
    assert cycle.json()["errors"][0]["code"] == "hierarchy_cycle"
