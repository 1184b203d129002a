"""Bulk ownership transfer: one owner's open leads and deals go to another, each with its
event and audit row; admin moves anyone's, a manager only within their tree, a rep nobody's."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import outbox_events
from tests.opportunities.conftest import Api, ok
from tests.opportunities.helpers import make_deal, make_pipeline, make_team, stage


async def book(admin: httpx.AsyncClient, owner: str, pipeline: dict[str, Any]) -> dict[str, Any]:
    """Two open leads, two open deals and a won deal owned by `owner`."""
    leads = [
        (await ok(await admin.post("/v1/leads", json={"first_name": n, "owner_id": owner}), 201))[
            "id"
        ]
        for n in ("L1", "L2")
    ]
    open_deals = [(await make_deal(admin, pipeline, owner_id=owner))["id"] for _ in range(2)]
    won = await make_deal(admin, pipeline, owner_id=owner, stage_id=stage(pipeline, "Won"))
    return {"leads": leads, "open": open_deals, "won": won["id"]}


async def owners(api: httpx.AsyncClient, what: str, ids: list[str]) -> list[str]:
    return [(await ok(await api.get(f"/v1/{what}/{i}")))["owner_id"] for i in ids]


async def test_admin_moves_open_leads_and_deals_with_events_and_audit(
    admin: httpx.AsyncClient, api_for: Api, opp_owner: AsyncEngine, tenant: str
) -> None:
    team = await make_team(admin, "PL", members={"rep-a": None, "rep-b": None})
    pipeline = await make_pipeline(admin)
    a = await book(admin, "rep-a", pipeline)
    before = len(await outbox_events(opp_owner, tenant))
    moved = await ok(
        await admin.post(
            "/v1/ownership-transfers", json={"from_owner_id": "rep-a", "to_owner_id": "rep-b"}
        )
    )
    assert moved == {
        "from_owner_id": "rep-a",
        "to_owner_id": "rep-b",
        "leads": 2,
        "opportunities": 2,
    }
    assert await owners(admin, "leads", a["leads"]) == ["rep-b", "rep-b"]
    assert await owners(admin, "opportunities", a["open"]) == ["rep-b", "rep-b"]
    assert await owners(admin, "opportunities", [a["won"]]) == ["rep-a"]  # closed stays
    deal = await ok(await admin.get(f"/v1/opportunities/{a['open'][0]}"))
    assert deal["team_id"] == team["id"] and deal["version"] == 2
    trail = await ok(await admin.get(f"/v1/leads/{a['leads'][0]}/assignments"))
    assert [(t["owner_id"], t["reason"], t["assigned_by"]) for t in trail] == [
        ("rep-a", "manual", "admin-1"),
        ("rep-b", "transfer", "admin-1"),
    ]
    events = (await outbox_events(opp_owner, tenant))[before:]
    assert Counter(e["type"] for e in events) == {
        "crm.lead.assigned": 2,
        "crm.opportunity.updated": 2,
    }
    assert all(e["data"].get("owner_id") == "rep-b" for e in events)
    # The new owner sees them now, the old one no longer does.
    rep_a, rep_b = api_for(["sales_rep"], "rep-a"), api_for(["sales_rep"], "rep-b")
    assert (await rep_b.get(f"/v1/leads/{a['leads'][0]}")).status_code == 200
    assert (await rep_a.get(f"/v1/opportunities/{a['open'][0]}")).status_code == 404
    # Running it again moves nothing more.
    again = await admin.post(
        "/v1/ownership-transfers", json={"from_owner_id": "rep-a", "to_owner_id": "rep-b"}
    )
    assert (await ok(again))["opportunities"] == 0


async def test_what_moves_can_be_chosen(admin: httpx.AsyncClient) -> None:
    pipeline = await make_pipeline(admin)
    a = await book(admin, "rep-a", pipeline)
    only_deals = await ok(
        await admin.post(
            "/v1/ownership-transfers",
            json={
                "from_owner_id": "rep-a",
                "to_owner_id": "rep-c",
                "records": ["opportunities"],
                "include_closed": True,
            },
        )
    )
    assert (only_deals["leads"], only_deals["opportunities"]) == (0, 3)
    assert await owners(admin, "opportunities", [a["won"]]) == ["rep-c"]
    assert await owners(admin, "leads", a["leads"]) == ["rep-a", "rep-a"]


async def test_a_manager_transfers_only_within_their_tree(
    admin: httpx.AsyncClient, api_for: Api
) -> None:
    await make_team(admin, "PL", manager="mgr-pl", members={"rep-a": None, "rep-b": None})
    await make_team(admin, "US", manager="mgr-us", members={"rep-c": None})
    pipeline = await make_pipeline(admin)
    a, c = await book(admin, "rep-a", pipeline), await book(admin, "rep-c", pipeline)
    manager = api_for(["sales_manager"], "mgr-pl")
    outside_target = await manager.post(
        "/v1/ownership-transfers", json={"from_owner_id": "rep-a", "to_owner_id": "rep-c"}
    )
    assert outside_target.status_code == 403
    outside_source = await manager.post(
        "/v1/ownership-transfers", json={"from_owner_id": "rep-c", "to_owner_id": "rep-b"}
    )
    assert outside_source.status_code == 403
    assert await owners(admin, "leads", a["leads"] + c["leads"]) == ["rep-a"] * 2 + ["rep-c"] * 2
    inside = await manager.post(
        "/v1/ownership-transfers", json={"from_owner_id": "rep-a", "to_owner_id": "rep-b"}
    )
    assert (await ok(inside))["leads"] == 2
    rep = api_for(["sales_rep"], "rep-b")
    refused = await rep.post(
        "/v1/ownership-transfers", json={"from_owner_id": "rep-b", "to_owner_id": "rep-a"}
    )
    assert refused.status_code == 403


async def test_bad_transfers_are_problems(admin: httpx.AsyncClient) -> None:
    for body in (
        {"from_owner_id": "rep-a", "to_owner_id": "rep-a"},
        {"from_owner_id": "rep-a", "to_owner_id": "rep-b", "records": ["quotes"]},
        {"from_owner_id": "rep-a", "to_owner_id": "rep-b", "records": []},
        {"from_owner_id": "", "to_owner_id": "rep-b"},
        {"to_owner_id": "rep-b"},
    ):
        response = await admin.post("/v1/ownership-transfers", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_routing_leads_leaves_the_teams_etag_alone(admin: httpx.AsyncClient) -> None:
    team = await make_team(admin, "Inbound", members={"u1": None, "u2": None})
    rule = {"name": "all", "position": 0, "team_id": team["id"], "conditions": {}}
    await ok(await admin.post("/v1/routing-rules", json=rule), 201)
    for _ in range(3):
        await ok(await admin.post("/v1/leads", json={"first_name": "L"}), 201)
    url = f"/v1/teams/{team['id']}"
    renamed = await admin.patch(url, json={"name": "Inbound EU"}, headers={"If-Match": '"1"'})
    assert renamed.status_code == 200, renamed.text
