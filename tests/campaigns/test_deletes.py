"""Deleting what a marketer may delete: campaigns that never went out, segments and lists no
live campaign uses, surveys nobody answered, the frequency cap. Everything else is 409 and
stays as it was."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.campaigns.helpers import (
    Feeder,
    build,
    make_campaign,
    make_segment,
    members,
    move,
    new_id,
    tagged,
)
from tests.conftest import client
from tests.helpers import count_rows, outbox_events


async def etag(api: httpx.AsyncClient, path: str) -> str:
    return (await api.get(path)).headers["ETag"]


async def delete(api: httpx.AsyncClient, path: str) -> httpx.Response:
    return await api.delete(path, headers={"If-Match": await etag(api, path)})


async def test_a_draft_goes_with_its_audience_and_is_published(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    await feed.person(tags=["d"])
    campaign = await make_campaign(capi, [await make_segment(capi, tagged("d"))])
    cid = campaign["id"]
    await build(capi, cid)
    assert len(await members(capi, cid)) == 1
    survey = (await capi.post("/v1/surveys", json={"name": "After", "campaign_id": cid})).json()
    path = f"/v1/campaigns/{cid}"
    assert (await capi.delete(path)).status_code == 428
    assert (await capi.delete(path, headers={"If-Match": '"99"'})).status_code == 412
    assert (await delete(capi, path)).status_code == 204
    assert (await capi.get(path)).status_code == 404
    assert (await capi.get(f"{path}/members")).status_code == 404
    assert await count_rows(campaigns_owner, "campaign_members", tenant) == 0
    # the survey stays, no longer tied to the campaign
    results = await capi.get(f"/v1/surveys/{survey['id']}/results")
    assert results.status_code == 200
    deleted = [
        e
        for e in await outbox_events(campaigns_owner, tenant)
        if e["type"] == "crm.campaign.deleted"
    ]
    assert [(e["key"], e["data"]["name"]) for e in deleted] == [(cid, "Spring")]
    assert (await capi.delete(path, headers={"If-Match": '"1"'})).status_code == 404


async def test_a_campaign_that_is_live_or_went_out_cannot_be_deleted(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    await feed.person(tags=["live"])
    segment = await make_segment(capi, tagged("live"))
    cid = (await make_campaign(capi, [segment]))["id"]
    path = f"/v1/campaigns/{cid}"
    await build(capi, cid)
    await move(capi, cid, "scheduled")
    scheduled = await delete(capi, path)
    assert scheduled.status_code == 409 and "back to draft" in scheduled.json()["detail"]
    await move(capi, cid, "running")
    running = await delete(capi, path)
    assert running.status_code == 409 and running.json()["status"] == "running"
    assert running.headers["content-type"] == "application/problem+json"
    await move(capi, cid, "cancelled")
    went_out = await delete(capi, path)
    assert went_out.status_code == 409 and "went out" in went_out.json()["detail"]
    assert (await capi.get(path)).json()["status"] == "cancelled"
    assert len(await members(capi, cid)) == 1
    # cancelled before launch: nothing went out, so it may go
    never = (await make_campaign(capi, [segment]))["id"]
    await move(capi, never, "cancelled")
    assert (await delete(capi, f"/v1/campaigns/{never}")).status_code == 204
    assert await count_rows(campaigns_owner, "campaigns", tenant) == 1


async def test_a_segment_in_use_by_a_live_campaign_stays(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    await feed.person(tags=["seg"])
    used = await make_segment(capi, tagged("seg"), name="used")
    excluded = await make_segment(capi, tagged("nobody"), name="excluded")
    campaign = await make_campaign(capi, [used], exclude_segment_ids=[excluded], name="Autumn")
    for segment in (used, excluded):
        refused = await delete(capi, f"/v1/segments/{segment}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["campaign_ids"] == [campaign["id"]]
        assert "Autumn" in refused.json()["detail"]
    assert (await capi.get(f"/v1/segments/{used}")).status_code == 200
    assert (await capi.delete(f"/v1/segments/{used}")).status_code == 428
    await delete(capi, f"/v1/campaigns/{campaign['id']}")
    assert (await delete(capi, f"/v1/segments/{used}")).status_code == 204
    assert (await capi.get(f"/v1/segments/{used}")).status_code == 404
    assert (
        await capi.delete(f"/v1/segments/{new_id()}", headers={"If-Match": '"1"'})
    ).status_code == 404


async def test_a_finished_campaign_reports_without_a_deleted_segment(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    await feed.person(tags=["a"])
    await feed.person(tags=["b"])
    kept, dropped = await make_segment(capi, tagged("a")), await make_segment(capi, tagged("b"))
    cid = (await make_campaign(capi, [kept, dropped]))["id"]
    await build(capi, cid)
    await move(capi, cid, "scheduled")
    await move(capi, cid, "running")
    await move(capi, cid, "completed")
    assert (await delete(capi, f"/v1/segments/{dropped}")).status_code == 204
    assert len(await members(capi, cid)) == 2  # the audience it went out to is kept
    report = await capi.get(f"/v1/campaigns/{cid}/effectiveness/segments")
    assert report.status_code == 200
    assert [r["segment_id"] for r in report.json()] == [kept]
    assert (await capi.get(f"/v1/campaigns/{cid}/effectiveness")).json()["audience"] == 2


async def test_a_static_list_goes_with_its_entries(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    people = [await feed.person() for _ in range(2)]
    created = await capi.post("/v1/segments", json={"name": "VIP list", "kind": "static"})
    lid = created.json()["id"]
    await capi.post(f"/v1/segments/{lid}/members", json={"contact_ids": people})
    assert await count_rows(campaigns_owner, "list_entries", tenant) == 2
    assert (await delete(capi, f"/v1/segments/{lid}")).status_code == 204
    assert await count_rows(campaigns_owner, "list_entries", tenant) == 0


async def test_a_survey_can_go_until_someone_answers(
    campaigns_app: FastAPI, capi: httpx.AsyncClient
) -> None:
    unused = (await capi.post("/v1/surveys", json={"name": "Draft survey"})).json()["id"]
    assert (await capi.delete(f"/v1/surveys/{unused}")).status_code == 204
    assert (await capi.get(f"/v1/surveys/{unused}/results")).status_code == 404
    answered = (await capi.post("/v1/surveys", json={"name": "Loyalty"})).json()["id"]
    [link] = (
        await capi.post(f"/v1/surveys/{answered}/links", json={"contact_ids": [new_id()]})
    ).json()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=campaigns_app), base_url="http://campaigns"
    ) as anonymous:
        response = await anonymous.post(
            "/v1/survey-answers", json={"token": link["token"], "nps_score": 9}
        )
        assert response.status_code == 201
    refused = await capi.delete(f"/v1/surveys/{answered}")
    assert refused.status_code == 409 and refused.json()["answers"] == 1
    assert (await capi.get(f"/v1/surveys/{answered}/results")).json()["responses"] == 1


async def test_removing_the_frequency_cap_uncaps_the_next_audience(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    await feed.person(tags=["cap"])
    segment = await make_segment(capi, tagged("cap"))
    assert (await capi.delete("/v1/contact-policy")).status_code == 404
    await capi.put("/v1/contact-policy", json={"max_touches": 1, "period_days": 30})
    first = (await make_campaign(capi, [segment]))["id"]
    assert (await build(capi, first))["members"] == 1
    second = (await make_campaign(capi, [segment]))["id"]
    assert (await build(capi, second))["excluded"]["frequency_cap"] == 1
    assert (await capi.delete("/v1/contact-policy")).status_code == 204
    assert (await capi.get("/v1/contact-policy")).status_code == 404
    assert (await build(capi, second))["members"] == 1


async def test_readers_and_other_tenants_cannot_delete(
    campaigns_app: FastAPI, capi: httpx.AsyncClient, tenant: str
) -> None:
    segment = await make_segment(capi, tagged("r"))
    cid = (await make_campaign(capi, [segment]))["id"]
    async with client(campaigns_app, tenant, roles=["analyst"]) as analyst:
        refused = await analyst.delete(f"/v1/segments/{segment}", headers={"If-Match": '"1"'})
        assert refused.status_code == 403
        assert (await analyst.delete("/v1/contact-policy")).status_code == 403
    async with client(campaigns_app, "t-other", roles=["marketer"]) as stranger:
        for path in (f"/v1/segments/{segment}", f"/v1/campaigns/{cid}"):
            response = await stranger.delete(path, headers={"If-Match": '"1"'})
            assert response.status_code == 404
    assert (await capi.get(f"/v1/segments/{segment}")).status_code == 200
    assert (await capi.get(f"/v1/campaigns/{cid}")).status_code == 200
