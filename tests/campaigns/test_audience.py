"""Audiences that respect the customer: consent, do-not-contact, exclusions, address,
preferred channel and the tenant's frequency cap."""

from __future__ import annotations

import httpx

from tests.campaigns.helpers import Feeder, build, make_campaign, make_segment, members, tagged


async def test_exclusions_by_reason_and_only_the_rest_become_members(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    ok = await feed.person(tags=["spring"])
    await feed.person(tags=["spring"], consent=[])  # never consented
    await feed.person(tags=["spring"], consent=["sms"])  # consented to another channel only
    await feed.person(tags=["spring"], do_not_contact=True)
    await feed.person(tags=["spring"], primary_email=None, emails=[])
    await feed.person(tags=["spring", "staff"])
    await feed.person(tags=["autumn"])
    campaign = await make_campaign(
        capi,
        [await make_segment(capi, tagged("spring"))],
        exclude_segment_ids=[await make_segment(capi, tagged("staff"))],
    )
    report = await build(capi, campaign["id"])
    assert report == {
        "candidates": 6,
        "members": 1,
        "excluded": {
            "excluded_segment": 1,
            "do_not_contact": 1,
            "no_consent": 2,
            "no_address": 1,
            "preferred_channel": 0,
            "frequency_cap": 0,
        },
    }
    assert [m["contact_id"] for m in await members(capi, campaign["id"])] == [ok]
    stored = (await capi.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert stored["audience_report"] == report
    # rebuilding replaces, never duplicates
    assert (await build(capi, campaign["id"]))["members"] == 1
    assert len(await members(capi, campaign["id"])) == 1


async def test_sms_needs_sms_consent_and_a_phone(capi: httpx.AsyncClient, feed: Feeder) -> None:
    ok = await feed.person(tags=["x"], consent=["sms"])
    await feed.person(tags=["x"], consent=["email"])
    await feed.person(tags=["x"], consent=["sms"], phones=[])
    campaign = await make_campaign(capi, [await make_segment(capi, tagged("x"))], channel="sms")
    report = await build(capi, campaign["id"])
    assert report["members"] == 1
    assert report["excluded"]["no_consent"] == 1 and report["excluded"]["no_address"] == 1
    assert [m["contact_id"] for m in await members(capi, campaign["id"])] == [ok]


async def test_preferred_channel_is_honoured_when_asked(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    await feed.person(tags=["p"], preferred_channel="phone")
    await feed.person(tags=["p"], preferred_channel="email")
    await feed.person(tags=["p"])
    seg = await make_segment(capi, tagged("p"))
    plain = await make_campaign(capi, [seg])
    assert (await build(capi, plain["id"]))["members"] == 3
    honouring = await make_campaign(
        capi,
        [seg],
        honour_preferred_channel=True,
        planned_start="2028-01-01T00:00:00Z",
        planned_end=None,
    )
    report = await build(capi, honouring["id"])
    assert report["members"] == 2 and report["excluded"]["preferred_channel"] == 1


async def test_frequency_cap_holds_across_two_campaigns(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    both = await feed.person(tags=["a", "b"])
    only_b = await feed.person(tags=["b"])
    policy = await capi.put("/v1/contact-policy", json={"max_touches": 1, "period_days": 30})
    assert policy.status_code == 200, policy.text
    assert (await capi.get("/v1/contact-policy")).json()["max_touches"] == 1
    first = await make_campaign(
        capi,
        [await make_segment(capi, tagged("a"))],
        planned_start="2027-05-01T09:00:00Z",
        planned_end=None,
    )
    second = await make_campaign(
        capi,
        [await make_segment(capi, tagged("b"))],
        planned_start="2027-05-10T09:00:00Z",
        planned_end=None,
    )
    far = await make_campaign(
        capi,
        [await make_segment(capi, tagged("b"))],
        planned_start="2027-08-10T09:00:00Z",
        planned_end=None,
    )
    assert (await build(capi, first["id"]))["members"] == 1
    report = await build(capi, second["id"])
    assert report["members"] == 1 and report["excluded"]["frequency_cap"] == 1
    assert [m["contact_id"] for m in await members(capi, second["id"])] == [only_b]
    # outside the period the cap does not bite
    assert {m["contact_id"] for m in await members(capi, far["id"])} == set()
    assert (await build(capi, far["id"]))["members"] == 2
    # rebuilding the first does not count its own previous members against itself
    assert (await build(capi, first["id"]))["members"] == 1
    assert [m["contact_id"] for m in await members(capi, first["id"])] == [both]
    bad = await capi.put("/v1/contact-policy", json={"max_touches": 0, "period_days": 30})
    assert bad.status_code == 422


async def test_audience_needs_segments_and_an_editable_campaign(
    capi: httpx.AsyncClient,
) -> None:
    campaign = await make_campaign(capi, [])
    response = await capi.post(f"/v1/campaigns/{campaign['id']}/audience")
    assert response.status_code == 409
    missing = await capi.post("/v1/campaigns/0193a0b4-5f6e-7c1d-8e2f-3a4b5c6d7e8f/audience")
    assert missing.status_code == 404
