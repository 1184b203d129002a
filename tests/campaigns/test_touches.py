"""Touch intake: deduplicated by provider event id, published for the timeline, unsubscribes
withdraw consent; effectiveness from touches and attributed wins."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.events.opportunities import OpportunityWon
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
from tests.helpers import count_rows, outbox_events


async def running_campaign(capi: httpx.AsyncClient, tag: str, **fields: Any) -> str:
    campaign = await make_campaign(capi, [await make_segment(capi, tagged(tag))], **fields)
    await build(capi, campaign["id"])
    await move(capi, campaign["id"], "scheduled")
    await move(capi, campaign["id"], "running")
    return str(campaign["id"])


def touch(campaign_id: str, contact_id: str, kind: str, event_id: str) -> dict[str, str]:
    return {
        "provider_event_id": event_id,
        "campaign_id": campaign_id,
        "contact_id": contact_id,
        "kind": kind,
        "occurred_at": "2027-03-02T10:00:00Z",
    }


async def test_duplicate_provider_callbacks_count_once(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    person = await feed.person(tags=["t"])
    cid = await running_campaign(capi, "t")
    first = await capi.post("/v1/touches", json=touch(cid, person, "opened", "prov-1"))
    assert first.status_code == 201, first.text
    for _ in range(2):
        again = await capi.post("/v1/touches", json=touch(cid, person, "opened", "prov-1"))
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert await count_rows(campaigns_owner, "touches", tenant) == 1
    events = [e for e in await outbox_events(campaigns_owner, tenant) if e["key"] == person]
    assert [e["type"] for e in events] == ["crm.campaign.touch_recorded", "crm.interaction.logged"]
    recorded, logged = events[0]["data"], events[1]["data"]
    assert recorded["kind"] == "opened" and recorded["campaign_id"] == cid
    assert logged["kind"] == "campaign_touch" and logged["direction"] == "inbound"
    assert logged["source"] == {"service": "campaigns", "entity": "campaign", "id": cid}
    member = (await members(capi, cid))[0]
    assert member["opened_at"] == "2027-03-02T10:00:00Z"
    report = (await capi.get(f"/v1/campaigns/{cid}/effectiveness")).json()
    assert report["opened"] == 1


async def test_unsubscribe_withdraws_consent_and_leaves_future_audiences(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    person = await feed.person(tags=["u"])
    cid = await running_campaign(capi, "u")
    response = await capi.post("/v1/touches", json=touch(cid, person, "unsubscribed", "u-1"))
    assert response.status_code == 201
    events = [e for e in await outbox_events(campaigns_owner, tenant) if e["key"] == person]
    withdrawn = [e for e in events if e["type"] == "crm.consent.withdrawn"]
    assert len(withdrawn) == 1
    assert withdrawn[0]["data"] | {"captured_at": None} == {
        "tenant_id": tenant,
        "contact_id": person,
        "channel": "email",
        "purpose": "marketing",
        "source": "unsubscribe",
        "captured_at": None,
        "entry_id": None,
        "campaign_id": cid,
    }
    follow_up = await make_campaign(capi, [await make_segment(capi, tagged("u"))])
    report = await build(capi, follow_up["id"])
    assert report["members"] == 0 and report["excluded"]["no_consent"] == 1


async def test_touches_need_a_member_and_valid_input(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    member = await feed.person(tags=["m"])
    outsider = await feed.person(tags=["other"])
    cid = await running_campaign(capi, "m")
    assert (
        await capi.post("/v1/touches", json=touch(cid, outsider, "clicked", "x-1"))
    ).status_code == 422
    assert (
        await capi.post("/v1/touches", json=touch(cid, member, "teleported", "x-2"))
    ).status_code == 422
    assert (
        await capi.post("/v1/touches", json=touch(member, member, "clicked", "x-3"))
    ).status_code == 404
    assert await count_rows(campaigns_owner, "touches", tenant) == 0


async def test_effectiveness_rates_cost_and_roi(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    people = [await feed.person(tags=["e"]) for _ in range(4)]
    cid = await running_campaign(capi, "e")
    n = 0
    for person, kinds in zip(
        people,
        [
            ["delivered", "opened", "clicked", "responded"],
            ["delivered", "opened"],
            ["delivered"],
            ["bounced"],
        ],
        strict=True,
    ):
        for kind in kinds:
            n += 1
            assert (
                await capi.post("/v1/touches", json=touch(cid, person, kind, f"e-{n}"))
            ).status_code == 201
    won = OpportunityWon(
        tenant_id=tenant,
        contact_id=people[0],
        opportunity_id="opp-1",
        pipeline_id="p",
        amount=Decimal("500.00"),
        currency="EUR",
        won_at=datetime.now(UTC),
        source_campaign_id=cid,
    )
    await feed.event(won)
    await feed.event(won)  # a replay under another group attributes once
    etag = (await capi.get(f"/v1/campaigns/{cid}")).headers["ETag"]
    await capi.patch(
        f"/v1/campaigns/{cid}", json={"actual_cost": "200.00"}, headers={"If-Match": etag}
    )
    report = (await capi.get(f"/v1/campaigns/{cid}/effectiveness")).json()
    assert report["audience"] == 4
    assert (
        report["delivered"],
        report["opened"],
        report["clicked"],
        report["responded"],
        report["bounced"],
    ) == (3, 2, 1, 1, 1)
    assert report["open_rate"] == round(2 / 3, 4) and report["click_rate"] == round(1 / 3, 4)
    assert report["conversions"] == 1
    assert Decimal(report["revenue_attributed"]) == Decimal("500.00")
    assert Decimal(report["cost_per_response"]) == Decimal("200.00")
    assert report["roi"] == 1.5


async def test_batch_intake_is_all_or_nothing_and_deduplicates(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    a, b = await feed.person(tags=["b"]), await feed.person(tags=["b"])
    outsider = await feed.person(tags=["nope"])
    cid = await running_campaign(capi, "b")
    bad = await capi.post(
        "/v1/touches/batch",
        json={"touches": [touch(cid, a, "opened", "b-1"), touch(cid, outsider, "opened", "b-2")]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/touches/1/contact_id"
    assert await count_rows(campaigns_owner, "touches", tenant) == 0
    batch = [
        touch(cid, a, "opened", "b-1"),
        touch(cid, b, "clicked", "b-3"),
        touch(cid, a, "opened", "b-1"),
    ]
    result = await capi.post("/v1/touches/batch", json={"touches": batch})
    assert result.json() == {"recorded": 2, "duplicates": 1}
    again = await capi.post("/v1/touches/batch", json={"touches": batch[:2]})
    assert again.json() == {"recorded": 0, "duplicates": 2}
    assert await count_rows(campaigns_owner, "touches", tenant) == 2


async def test_a_batch_books_first_times_events_and_unsubscribes_like_single_callbacks(
    capi: httpx.AsyncClient, feed: Feeder, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    a, b = await feed.person(tags=["bb"]), await feed.person(tags=["bb"])
    cid = await running_campaign(capi, "bb")
    later, earlier = "2027-03-03T10:00:00Z", "2027-03-02T08:00:00Z"
    batch = [
        touch(cid, a, "opened", "bb-1") | {"occurred_at": later},
        touch(cid, a, "opened", "bb-2") | {"occurred_at": earlier},
        touch(cid, a, "clicked", "bb-3"),
        touch(cid, b, "unsubscribed", "bb-4"),
    ]
    assert (await capi.post("/v1/touches/batch", json={"touches": batch})).json() == {
        "recorded": 4,
        "duplicates": 0,
    }
    by_person = {m["contact_id"]: m for m in await members(capi, cid)}
    assert by_person[a]["opened_at"] == earlier and by_person[a]["clicked_at"] is not None
    assert by_person[b]["unsubscribed_at"] is not None and by_person[b]["opened_at"] is None
    types = Counter(e["type"] for e in await outbox_events(campaigns_owner, tenant))
    assert types["crm.campaign.touch_recorded"] == 4 and types["crm.interaction.logged"] == 4
    assert types["crm.consent.withdrawn"] == 1
    unknown = touch(new_id(), a, "opened", "bb-5")
    refused = await capi.post("/v1/touches/batch", json={"touches": [batch[0], unknown]})
    assert refused.status_code == 404
    assert await count_rows(campaigns_owner, "touches", tenant) == 4


async def test_effectiveness_per_channel_sums_campaigns(
    capi: httpx.AsyncClient, feed: Feeder
) -> None:
    a = await feed.person(tags=["ch"])
    s = await feed.person(tags=["ch"], consent=["sms"])
    email = await running_campaign(capi, "ch")
    sms = await running_campaign(capi, "ch", channel="sms")
    await capi.post("/v1/touches", json=touch(email, a, "delivered", "ch-1"))
    await capi.post("/v1/touches", json=touch(sms, s, "responded", "ch-2"))
    rows = {r["channel"]: r for r in (await capi.get("/v1/effectiveness/channels")).json()}
    assert rows["email"]["audience"] == 1 and rows["email"]["delivered"] == 1
    assert rows["sms"]["responded"] == 1 and rows["sms"]["campaign_id"] is None


async def test_effectiveness_per_segment_shares_cost_by_audience(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    vip = await feed.person(tags=["vip"])
    regulars = [await feed.person(tags=["reg"]) for _ in range(3)]
    vip_seg = await make_segment(capi, tagged("vip"))
    reg_seg = await make_segment(capi, tagged("reg"))
    campaign = await make_campaign(capi, [vip_seg, reg_seg], actual_cost="400.00")
    cid = campaign["id"]
    await build(capi, cid)
    await move(capi, cid, "scheduled")
    await move(capi, cid, "running")
    await capi.post("/v1/touches", json=touch(cid, vip, "responded", "seg-1"))
    await capi.post("/v1/touches", json=touch(cid, regulars[0], "responded", "seg-2"))
    await feed.event(
        OpportunityWon(
            tenant_id=tenant,
            contact_id=vip,
            opportunity_id="opp-vip",
            pipeline_id="p",
            amount=Decimal("1000.00"),
            won_at=datetime.now(UTC),
            source_campaign_id=cid,
        )
    )
    rows = {
        r["segment_id"]: r
        for r in (await capi.get(f"/v1/campaigns/{cid}/effectiveness/segments")).json()
    }
    assert rows[vip_seg]["audience"] == 1 and rows[reg_seg]["audience"] == 3
    assert Decimal(rows[vip_seg]["cost"]) == Decimal("100.00")
    assert Decimal(rows[reg_seg]["cost"]) == Decimal("300.00")
    assert Decimal(rows[vip_seg]["revenue_attributed"]) == Decimal("1000.00")
    assert rows[vip_seg]["roi"] == 9.0 and rows[reg_seg]["roi"] == -1.0
    assert rows[reg_seg]["responded"] == 1
