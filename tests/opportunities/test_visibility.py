"""Record visibility: a rep sees their own, a manager their team tree's, admin everything;
in lists, reads, writes, sub-resources and the forecast alike."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from tests.opportunities.conftest import Api, ok
from tests.opportunities.helpers import make_deal, make_pipeline, make_team


async def org(admin: httpx.AsyncClient) -> dict[str, Any]:
    """EU (mgr-eu) > PL (mgr-pl: rep-a, rep-b); US (mgr-us: rep-c). One deal and lead each."""
    eu = await make_team(admin, "EU", manager="mgr-eu")
    await make_team(
        admin, "PL", manager="mgr-pl", parent=eu["id"], members={"rep-a": None, "rep-b": None}
    )
    await make_team(admin, "US", manager="mgr-us", members={"rep-c": None})
    pipeline = await make_pipeline(admin)
    deals, leads = {}, {}
    for rep in ("rep-a", "rep-b", "rep-c"):
        deals[rep] = (
            await make_deal(admin, pipeline, owner_id=rep, expected_close_date=str(date.today()))
        )["id"]
        lead = await ok(
            await admin.post("/v1/leads", json={"email": f"{rep}@x.example", "owner_id": rep}), 201
        )
        leads[rep] = lead["id"]
    return {"pipeline": pipeline, "deals": deals, "leads": leads}


async def seen(api: httpx.AsyncClient, what: str, ids: dict[str, str]) -> set[str]:
    listed = {item["id"] for item in (await ok(await api.get(f"/v1/{what}")))["items"]}
    readable = {
        rep for rep, i in ids.items() if (await api.get(f"/v1/{what}/{i}")).status_code == 200
    }
    named = {rep for rep, i in ids.items() if i in listed}
    assert named == readable, (what, named, readable)
    return named


async def test_each_role_sees_exactly_its_records(api_for: Api, admin: httpx.AsyncClient) -> None:
    o = await org(admin)
    expectations = {
        ("admin", "admin-1"): {"rep-a", "rep-b", "rep-c"},
        ("analyst", "ana-1"): {"rep-a", "rep-b", "rep-c"},
        ("sales_rep", "rep-a"): {"rep-a"},
        ("sales_rep", "rep-c"): {"rep-c"},
        ("sales_rep", "rep-z"): set(),
        ("sales_manager", "mgr-pl"): {"rep-a", "rep-b"},
        ("sales_manager", "mgr-eu"): {"rep-a", "rep-b"},  # the tree below EU
        ("sales_manager", "mgr-us"): {"rep-c"},
    }
    for (role, sub), expected in expectations.items():
        api = api_for([role], sub)
        assert await seen(api, "opportunities", o["deals"]) == expected, (role, sub)
        assert await seen(api, "leads", o["leads"]) == expected, (role, sub)
        for rep, deal in o["deals"].items():
            history = await api.get(f"/v1/opportunities/{deal}/stage-history")
            assert (history.status_code == 200) == (rep in expected)


async def test_writes_respect_visibility(api_for: Api, admin: httpx.AsyncClient) -> None:
    o = await org(admin)
    rep_a = api_for(["sales_rep"], "rep-a")
    other = await rep_a.patch(
        f"/v1/opportunities/{o['deals']['rep-b']}",
        json={"name": "mine"},
        headers={"If-Match": '"1"'},
    )
    assert other.status_code == 404
    steal = await rep_a.post(
        "/v1/opportunities",
        json={
            "name": "X",
            "person_id": "0190a000-0000-7000-8000-000000000001",
            "pipeline_id": o["pipeline"]["id"],
            "amount": "1.00",
            "currency": "EUR",
            "owner_id": "rep-b",
        },
    )
    assert steal.status_code == 403
    own = await make_deal(rep_a, o["pipeline"])
    assert own["owner_id"] == "rep-a"

    mgr = api_for(["sales_manager"], "mgr-pl")
    moved = await mgr.patch(
        f"/v1/opportunities/{o['deals']['rep-a']}",
        json={"owner_id": "rep-b"},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200 and moved.json()["owner_id"] == "rep-b"
    outside = await mgr.patch(
        f"/v1/opportunities/{o['deals']['rep-b']}",
        json={"owner_id": "rep-c"},
        headers={"If-Match": '"1"'},
    )
    assert outside.status_code == 403
    assert (
        await mgr.post(f"/v1/leads/{o['leads']['rep-c']}/assign", json={"owner_id": "rep-a"})
    ).status_code == 404


async def test_forecast_only_counts_visible_deals(api_for: Api, admin: httpx.AsyncClient) -> None:
    await org(admin)
    today = str(date.today())
    params = {"from": today, "to": today, "group_by": "owner"}

    async def owners(api: httpx.AsyncClient) -> set[str]:
        return {
            r["group"] for r in (await ok(await api.get("/v1/forecast", params=params)))["rows"]
        }

    assert await owners(admin) == {"rep-a", "rep-b", "rep-c"}
    assert await owners(api_for(["sales_manager"], "mgr-pl")) == {"rep-a", "rep-b"}
    assert await owners(api_for(["sales_rep"], "rep-c")) == {"rep-c"}


async def test_roles_without_sales_access_are_refused(api_for: Api) -> None:
    for role in ("marketer", "agent"):
        response = await api_for([role], "u").get("/v1/opportunities")
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
