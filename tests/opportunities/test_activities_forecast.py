"""Sales activities (overdue lists, timeline events) and the forecast's measures, computed
exactly as defined: open, weighted (amount x probability), closed won, hit rate, time to close."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import outbox_events
from tests.opportunities.conftest import Api, ok
from tests.opportunities.helpers import make_deal, make_pipeline, make_team, stage


async def test_overdue_list_and_timeline_event(
    api_for: Api, admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline, owner_id="rep-1")
    rep = api_for(["sales_rep"], "rep-1")
    past = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    call = await ok(
        await rep.post(
            "/v1/activities",
            json={
                "kind": "call",
                "subject": "Discovery call",
                "due_at": past,
                "opportunity_id": deal["id"],
            },
        ),
        201,
    )
    await ok(
        await rep.post(
            "/v1/activities", json={"kind": "task", "subject": "Later", "due_at": future}
        ),
        201,
    )
    await ok(
        await admin.post(
            "/v1/activities",
            json={"kind": "task", "subject": "Theirs", "due_at": past, "assignee_id": "rep-2"},
        ),
        201,
    )
    naive = await rep.post(
        "/v1/activities", json={"kind": "task", "subject": "x", "due_at": "2026-01-01T10:00:00"}
    )
    assert naive.status_code == 422

    overdue = await ok(await rep.get("/v1/activities/overdue"))
    assert [a["subject"] for a in overdue["items"]] == ["Discovery call"]
    everyone = await ok(await admin.get("/v1/activities/overdue"))
    assert {a["assignee_id"] for a in everyone["items"]} == {"rep-1", "rep-2"}

    done = await ok(
        await rep.post(f"/v1/activities/{call['id']}/complete", json={"outcome": "interested"})
    )
    assert done["status"] == "done" and done["person_id"] == deal["person_id"]
    assert (await ok(await rep.get("/v1/activities/overdue")))["items"] == []
    again = await rep.post(f"/v1/activities/{call['id']}/complete", json={})
    assert again.status_code == 409
    logged = [
        e for e in await outbox_events(opp_owner, tenant) if e["type"] == "crm.interaction.logged"
    ]
    assert len(logged) == 1 and logged[0]["key"] == deal["person_id"]
    data = logged[0]["data"]
    assert (data["channel"], data["direction"], data["kind"]) == ("phone", "outbound", "call")
    assert data["source"] == {"service": "opportunities", "entity": "activity", "id": call["id"]}
    assert data["opportunity_id"] == deal["id"]


async def test_forecast_measures(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    await make_team(admin, "T", members={"a": None, "b": None})
    pipeline = await make_pipeline(admin)
    today = date.today()
    d = str(today)
    # a: two open deals (EUR) and one open deal in another currency.
    await make_deal(admin, pipeline, owner_id="a", amount="1000.00", expected_close_date=d)
    await make_deal(
        admin, pipeline, owner_id="a", amount="333.33", probability="33.33", expected_close_date=d
    )
    await make_deal(
        admin, pipeline, owner_id="a", amount="50.00", currency="PLN", expected_close_date=d
    )
    # Outside the period: not in the open pipeline.
    await make_deal(
        admin,
        pipeline,
        owner_id="a",
        amount="999.00",
        expected_close_date=str(today + timedelta(days=400)),
    )
    # b: won 2 (one after 10 days), lost 1.
    closed = []
    for amount, target in (("200.00", "Won"), ("300.00", "Won"), ("400.00", "Lost")):
        deal = await make_deal(admin, pipeline, owner_id="b", amount=amount)
        moved = await ok(
            await admin.patch(
                f"/v1/opportunities/{deal['id']}",
                json={"stage_id": stage(pipeline, target)},
                headers={"If-Match": '"1"'},
            )
        )
        closed.append(moved)
    async with opp_owner.begin() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
        await conn.execute(
            text(
                "UPDATE opportunities SET created_at = closed_at - interval '10 days' WHERE id = :i"
            ),
            {"i": closed[0]["id"]},
        )
        await conn.execute(
            text(
                "UPDATE opportunities SET created_at = closed_at - interval '5 days' WHERE id = :i"
            ),
            {"i": closed[1]["id"]},
        )

    report = await ok(
        await admin.get("/v1/forecast", params={"from": d, "to": d, "group_by": "owner"})
    )
    rows = {(r["group"], r["currency"]): r for r in report["rows"]}
    a_eur = rows[("a", "EUR")]
    assert a_eur["open_count"] == 2 and a_eur["open_pipeline"] == "1333.33"
    # 1000 x 10% + 333.33 x 33.33% = 100 + 111.098889 = 211.098889 -> 211.10
    assert a_eur["weighted_pipeline"] == "211.10"
    assert rows[("a", "PLN")]["open_pipeline"] == "50.00"
    assert rows[("a", "PLN")]["weighted_pipeline"] == "5.00"
    b = rows[("b", "EUR")]
    assert (b["won_count"], b["lost_count"], b["closed_won"]) == (2, 1, "500.00")
    assert b["hit_rate"] == "66.67" and b["avg_days_to_close"] == "7.50"
    assert b["open_pipeline"] == "0.00"

    by_stage = await ok(
        await admin.get("/v1/forecast", params={"from": d, "to": d, "group_by": "stage"})
    )
    assert {r["group"] for r in by_stage["rows"]} == {
        stage(pipeline, "Qualify"),
        stage(pipeline, "Won"),
        stage(pipeline, "Lost"),
    }
    by_team = await ok(
        await admin.get("/v1/forecast", params={"from": d, "to": d, "group_by": "team"})
    )
    assert len({r["group"] for r in by_team["rows"]}) == 1
    bad = await admin.get("/v1/forecast", params={"from": d, "to": str(today - timedelta(days=1))})
    assert bad.status_code == 422

    converted = await admin.get("/v1/forecast", params={"from": d, "to": d, "convert": "true"})
    assert converted.status_code == 422  # no rates yet
    await ok(
        await admin.put(
            "/v1/exchange-rates", json={"base_currency": "USD", "rates": {"EUR": "1.1"}}
        )
    )
    missing = await admin.get("/v1/forecast", params={"from": d, "to": d, "convert": "true"})
    assert missing.status_code == 422 and missing.json()["missing_currencies"] == ["PLN"]
    await ok(
        await admin.put(
            "/v1/exchange-rates", json={"base_currency": "EUR", "rates": {"PLN": "0.25"}}
        )
    )
    report = await ok(
        await admin.get("/v1/forecast", params={"from": d, "to": d, "convert": "true"})
    )
    merged = {r["group"]: r for r in report["rows"]}
    assert merged["a"]["currency"] == "EUR" and merged["a"]["open_count"] == 3
    assert merged["a"]["open_pipeline"] == "1345.83"  # 1333.33 + 50 x 0.25
    assert merged["a"]["weighted_pipeline"] == "212.35"  # 211.098889 + 1.25
    assert merged["b"]["avg_days_to_close"] == "7.50" and merged["b"]["hit_rate"] == "66.67"
