"""Campaign lifecycle (valid transitions only, events), editing rules and the calendar."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.campaigns.helpers import Feeder, build, make_campaign, make_segment, move, tagged
from tests.helpers import count_rows, outbox_events


async def test_create_read_and_validation(
    capi: httpx.AsyncClient, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    created = await make_campaign(capi, [], budget="1500.00", currency="EUR", owner_id="u-7")
    assert created["status"] == "draft" and created["budget"] == "1500.00"
    got = await capi.get(f"/v1/campaigns/{created['id']}")
    assert got.headers["ETag"] == f'"{created["version"]}"'
    for bad in (
        {"name": "x", "channel": "pigeon"},
        {"name": "x", "channel": "email", "budget": "-1"},
        {
            "name": "x",
            "channel": "email",
            "planned_start": "2027-03-02T00:00:00Z",
            "planned_end": "2027-03-01T00:00:00Z",
        },
        {"name": "x", "channel": "email", "segment_ids": ["0193a0b4-5f6e-7c1d-8e2f-3a4b5c6d7e8f"]},
    ):
        response = await capi.post("/v1/campaigns", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert await count_rows(campaigns_owner, "campaigns", tenant) == 1
    reader = await capi.get("/v1/campaigns", params={"status": "draft"})
    assert [c["id"] for c in reader.json()["items"]] == [created["id"]]


async def test_only_valid_transitions_and_each_milestone_is_published(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    await feed.person(tags=["t"])
    campaign = await make_campaign(capi, [await make_segment(capi, tagged("t"))], budget="100.00")
    cid = campaign["id"]
    no_if_match = await capi.post(f"/v1/campaigns/{cid}/status", json={"status": "scheduled"})
    assert no_if_match.status_code == 428
    skip = await capi.post(
        f"/v1/campaigns/{cid}/status", json={"status": "completed"}, headers={"If-Match": '"1"'}
    )
    assert skip.status_code == 409 and skip.json()["allowed"] == ["cancelled", "scheduled"]
    await move(capi, cid, "scheduled")
    launch = await capi.post(
        f"/v1/campaigns/{cid}/status",
        json={"status": "running"},
        headers={"If-Match": (await capi.get(f"/v1/campaigns/{cid}")).headers["ETag"]},
    )
    assert launch.status_code == 409  # no audience yet
    await build(capi, cid)
    await move(capi, cid, "running")
    edit = await capi.patch(
        f"/v1/campaigns/{cid}",
        json={"name": "renamed"},
        headers={"If-Match": (await capi.get(f"/v1/campaigns/{cid}")).headers["ETag"]},
    )
    assert edit.status_code == 409
    cost = await capi.patch(
        f"/v1/campaigns/{cid}",
        json={"actual_cost": "80.00"},
        headers={"If-Match": (await capi.get(f"/v1/campaigns/{cid}")).headers["ETag"]},
    )
    assert cost.status_code == 200, cost.text
    done = await move(capi, cid, "completed")
    assert done["status"] == "completed"
    stale = await capi.post(
        f"/v1/campaigns/{cid}/status", json={"status": "cancelled"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    events = await outbox_events(campaigns_owner, tenant)
    milestones = [
        e
        for e in events
        if e["type"].startswith("crm.campaign.") and e["type"] != "crm.campaign.touch_recorded"
    ]
    assert [e["type"] for e in milestones] == [
        "crm.campaign.scheduled",
        "crm.campaign.launched",
        "crm.campaign.completed",
    ]
    assert milestones[0]["data"]["budget"] == "100.00"
    assert milestones[1]["data"]["audience_size"] == 1
    assert milestones[2]["data"]["actual_cost"] == "80.00"
    assert all(e["key"] == cid for e in milestones)


async def test_calendar_groups_by_week_and_month_and_flags_conflicts(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    await feed.person(tags=["a"])
    seg = await make_segment(capi, tagged("a"))
    other_seg = await make_segment(capi, tagged("zzz"))
    first = await make_campaign(
        capi,
        [seg],
        name="A",
        planned_start="2027-03-01T09:00:00Z",
        planned_end="2027-03-10T09:00:00Z",
    )
    clash = await make_campaign(
        capi,
        [seg],
        name="B",
        planned_start="2027-03-08T09:00:00Z",
        planned_end="2027-03-09T09:00:00Z",
    )
    sms = await make_campaign(
        capi,
        [seg],
        name="C",
        channel="sms",
        planned_start="2027-03-08T09:00:00Z",
        planned_end="2027-03-09T09:00:00Z",
    )
    disjoint = await make_campaign(
        capi,
        [other_seg],
        name="D",
        planned_start="2027-03-08T09:00:00Z",
        planned_end="2027-03-09T09:00:00Z",
    )
    later = await make_campaign(
        capi,
        [seg],
        name="E",
        planned_start="2027-04-20T09:00:00Z",
        planned_end="2027-04-21T09:00:00Z",
    )
    weekly = (
        await capi.get("/v1/calendar", params={"from": "2027-03-01", "to": "2027-03-31"})
    ).json()
    assert [p["period_start"] for p in weekly["periods"]] == ["2027-03-01", "2027-03-08"]
    week2 = {c["name"]: c for c in weekly["periods"][1]["campaigns"]}
    assert set(week2) == {"A", "B", "C", "D"}  # A spans both weeks
    assert week2["A"]["conflicts_with"] == [clash["id"]]
    assert week2["B"]["conflicts_with"] == [first["id"]]
    assert week2["C"]["conflicts_with"] == [] and week2["D"]["conflicts_with"] == []
    monthly = (
        await capi.get(
            "/v1/calendar", params={"from": "2027-03-01", "to": "2027-04-30", "group_by": "month"}
        )
    ).json()
    assert [p["period_start"] for p in monthly["periods"]] == ["2027-03-01", "2027-04-01"]
    assert [c["id"] for c in monthly["periods"][1]["campaigns"]] == [later["id"]]
    assert sms["id"] in {c["id"] for c in monthly["periods"][0]["campaigns"]}
    assert disjoint["id"] in {c["id"] for c in monthly["periods"][0]["campaigns"]}
    # once both audiences are built, the overlap is judged on actual members
    await build(capi, first["id"])
    await build(capi, clash["id"])
    weekly = (
        await capi.get("/v1/calendar", params={"from": "2027-03-08", "to": "2027-03-08"})
    ).json()
    names = {c["name"]: c for c in weekly["periods"][0]["campaigns"]}
    assert names["A"]["conflicts_with"] == [clash["id"]]
    bad = await capi.get("/v1/calendar", params={"from": "2027-03-08", "to": "2027-03-01"})
    assert bad.status_code == 422


async def test_another_tenant_sees_nothing(
    campaigns_app: object, capi: httpx.AsyncClient, feed: Feeder
) -> None:
    from fastapi import FastAPI

    from tests.conftest import client

    assert isinstance(campaigns_app, FastAPI)
    await feed.person(tags=["iso"])
    campaign = await make_campaign(capi, [await make_segment(capi, tagged("iso"))])
    await build(capi, campaign["id"])
    async with client(campaigns_app, f"t-other-{campaign['id'][-6:]}", roles=["marketer"]) as other:
        assert (await other.get(f"/v1/campaigns/{campaign['id']}")).status_code == 404
        assert (await other.get("/v1/campaigns")).json()["items"] == []
        assert (await other.post(f"/v1/campaigns/{campaign['id']}/audience")).status_code == 404
    async with client(campaigns_app, "t-x", roles=["agent"]) as agent:
        assert (
            await agent.post("/v1/campaigns", json={"name": "x", "channel": "email"})
        ).status_code == 403
