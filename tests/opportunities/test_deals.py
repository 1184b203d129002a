"""Pipelines and deals: stage defaults, overrides, stage history and the events they publish."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import count_rows, outbox_events
from tests.opportunities.conftest import ok
from tests.opportunities.helpers import make_deal, make_pipeline, stage


async def test_probability_defaults_to_stage_unless_overridden(admin: httpx.AsyncClient) -> None:
    pipeline = await make_pipeline(admin)
    assert [s["position"] for s in pipeline["stages"]] == [0, 1, 2, 3, 4]
    deal = await make_deal(admin, pipeline)
    assert deal["stage_id"] == stage(pipeline, "Qualify")
    assert deal["probability"] == "10.00" and deal["probability_override"] is None
    assert deal["owner_id"] == "admin-1" and deal["status"] == "open"

    custom = await make_deal(admin, pipeline, probability="25.5")
    assert custom["probability"] == "25.50"

    moved = await ok(
        await admin.patch(
            f"/v1/opportunities/{deal['id']}",
            json={"stage_id": stage(pipeline, "Negotiate")},
            headers={"If-Match": '"1"'},
        )
    )
    assert moved["probability"] == "70.00"
    # The override survives a stage move; null restores the stage default.
    moved = await ok(
        await admin.patch(
            f"/v1/opportunities/{custom['id']}",
            json={"stage_id": stage(pipeline, "Propose")},
            headers={"If-Match": '"1"'},
        )
    )
    assert moved["probability"] == "25.50"
    restored = await ok(
        await admin.patch(
            f"/v1/opportunities/{custom['id']}",
            json={"probability": None},
            headers={"If-Match": f'"{moved["version"]}"'},
        )
    )
    assert restored["probability"] == "40.00"


async def test_stage_history_and_events(
    api_for: object, admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline, amount="1234.56", source_campaign_id="camp-1")
    url = f"/v1/opportunities/{deal['id']}"
    await ok(
        await admin.patch(
            url, json={"stage_id": stage(pipeline, "Propose")}, headers={"If-Match": '"1"'}
        )
    )
    stale = await admin.patch(
        url, json={"stage_id": stage(pipeline, "Won")}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    won = await ok(
        await admin.patch(
            url,
            json={"stage_id": stage(pipeline, "Won"), "reason": "best price"},
            headers={"If-Match": '"2"'},
        )
    )
    assert won["status"] == "won" and won["closed_at"] and won["close_reason"] == "best price"
    assert won["probability"] == "100.00"

    history = await ok(await admin.get(f"{url}/stage-history"))
    assert [(h["from_stage_id"], h["to_stage_id"]) for h in history] == [
        (None, stage(pipeline, "Qualify")),
        (stage(pipeline, "Qualify"), stage(pipeline, "Propose")),
        (stage(pipeline, "Propose"), stage(pipeline, "Won")),
    ]
    assert {h["changed_by"] for h in history} == {"admin-1"}

    events = await outbox_events(opp_owner, tenant)
    assert [e["type"] for e in events] == [
        "crm.opportunity.created",
        "crm.opportunity.stage_changed",
        "crm.opportunity.stage_changed",
        "crm.opportunity.won",
    ]
    assert all(e["key"] == deal["person_id"] for e in events)
    won_event = events[-1]["data"]
    assert won_event["amount"] == "1234.56" and won_event["currency"] == "EUR"
    assert won_event["source_campaign_id"] == "camp-1" and won_event["reason"] == "best price"


async def test_lost_with_reason(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline)
    lost = await ok(
        await admin.patch(
            f"/v1/opportunities/{deal['id']}",
            json={"stage_id": stage(pipeline, "Lost"), "reason": "no budget"},
            headers={"If-Match": '"1"'},
        )
    )
    assert lost["status"] == "lost" and lost["probability"] == "0.00"
    events = await outbox_events(opp_owner, tenant)
    assert events[-1]["type"] == "crm.opportunity.lost"
    assert events[-1]["data"]["reason"] == "no budget"


async def test_bad_input_is_a_problem_and_writes_nothing(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    other = await make_pipeline(admin, "Other")
    base = {
        "name": "X",
        "person_id": "0190a000-0000-7000-8000-000000000001",
        "pipeline_id": pipeline["id"],
        "amount": "10.00",
        "currency": "EUR",
    }
    cases = [
        ({"currency": "EURO"}, "/currency"),
        ({"currency": "XYZ"}, "/currency"),
        ({"amount": "10.001"}, "/amount"),
        ({"amount": "-1"}, "/amount"),
        ({"probability": "101"}, "/probability"),
        ({"stage_id": stage(other, "Qualify")}, "/stage_id"),
    ]
    for change, pointer in cases:
        response = await admin.post("/v1/opportunities", json=base | change)
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert await count_rows(opp_owner, "opportunities", tenant) == 0
    assert await outbox_events(opp_owner, tenant) == []

    bad_pipeline = await admin.post(
        "/v1/pipelines",
        json={"name": "P", "stages": [{"name": "W", "probability": 100, "kind": "won"}]},
    )
    assert bad_pipeline.status_code == 422


async def test_tenants_do_not_see_each_other(admin: httpx.AsyncClient, opp_app: object) -> None:
    from tests.conftest import client

    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline)
    async with client(opp_app, "t-other-tenant") as stranger:  # type: ignore[arg-type]
        assert (await stranger.get(f"/v1/opportunities/{deal['id']}")).status_code == 404
        assert (await stranger.get("/v1/opportunities")).json()["items"] == []


async def test_detail_changes_are_published(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline)
    await ok(
        await admin.patch(
            f"/v1/opportunities/{deal['id']}",
            json={"amount": "2000.00", "owner_id": "rep-9", "name": "Deal"},
            headers={"If-Match": '"1"'},
        )
    )
    events = await outbox_events(opp_owner, tenant)
    assert [e["type"] for e in events] == ["crm.opportunity.created", "crm.opportunity.updated"]
    assert events[1]["data"]["changed"] == ["amount", "owner_id"]
    assert events[1]["data"]["owner_id"] == "rep-9" and events[1]["data"]["amount"] == "2000.00"
