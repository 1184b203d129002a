"""Telemarketing: call lists from an audience (phone consent), ordered by value tier, spread
over agents; "interested" creates one lead in the real opportunities service."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from crm_shared.events.analytics import CustomerSegmentChanged
from tests.campaigns.helpers import Feeder, build, make_campaign, make_segment, tagged
from tests.conftest import client


async def test_call_list_order_assignment_outcomes_and_lead(
    campaigns_app: FastAPI,
    opportunities_app: FastAPI,
    capi: httpx.AsyncClient,
    feed: Feeder,
    tenant: str,
) -> None:
    campaigns_app.state.leads_transport = httpx.ASGITransport(app=opportunities_app)
    tiers = {}
    for tier in ("low", "key", "standard"):
        person = await feed.person(tags=["tm"], consent=["email", "phone"], last_name=tier)
        await feed.event(
            CustomerSegmentChanged(
                tenant_id=tenant,
                contact_id=person,
                rfm_segment=None,
                value_tier=tier,
                computed_at=datetime.now(UTC),
            )
        )
        tiers[tier] = person
    await feed.person(tags=["tm"], consent=["email"])  # no phone consent: not called
    campaign = await make_campaign(capi, [await make_segment(capi, tagged("tm"))])
    assert (await build(capi, campaign["id"]))["members"] == 4
    created = await capi.post(
        f"/v1/campaigns/{campaign['id']}/call-lists",
        json={"name": "Key accounts first", "agent_ids": ["a1", "a2"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["entries"] == 3
    assert created.json()["excluded"] == {"no_phone_consent_or_number": 1}
    lid = created.json()["id"]
    async with client(campaigns_app, tenant, roles=["agent"], sub="a1") as agent:
        listed = (await agent.get(f"/v1/call-lists/{lid}/entries")).json()
        assert [e["contact_id"] for e in listed] == [tiers["key"], tiers["standard"], tiers["low"]]
        assert [e["agent_id"] for e in listed] == ["a1", "a2", "a1"]
        mine = (await agent.get(f"/v1/call-lists/{lid}/entries", params={"agent_id": "a2"})).json()
        assert [e["contact_id"] for e in mine] == [tiers["standard"]]
        url = f"/v1/call-lists/{lid}/entries/{{}}/outcome"
        no_time = await agent.post(url.format(tiers["low"]), json={"outcome": "call_back"})
        assert no_time.status_code == 422
        later = await agent.post(
            url.format(tiers["low"]),
            json={"outcome": "call_back", "callback_at": "2027-03-02T10:00:00Z"},
        )
        assert later.status_code == 200 and later.json()["attempts"] == 1
        no = await agent.post(url.format(tiers["standard"]), json={"outcome": "not_interested"})
        assert no.status_code == 200
        still_open = (
            await agent.get(f"/v1/call-lists/{lid}/entries", params={"open_only": "true"})
        ).json()
        assert {e["contact_id"] for e in still_open} == {tiers["key"], tiers["low"]}
        yes = await agent.post(
            url.format(tiers["key"]), json={"outcome": "interested", "notes": "wants a demo"}
        )
        assert yes.status_code == 200, yes.text
        lead_id = yes.json()["lead_id"]
        assert lead_id
        again = await agent.post(url.format(tiers["key"]), json={"outcome": "interested"})
        assert again.status_code == 409
    async with client(opportunities_app, tenant) as sales:
        lead = await sales.get(f"/v1/leads/{lead_id}")
        assert lead.status_code == 200, lead.text
        assert lead.json()["campaign_id"] == campaign["id"]
        assert lead.json()["last_name"] == "key"
        leads = (await sales.get("/v1/leads")).json()["items"]
        assert [item["id"] for item in leads] == [lead_id]
    report = (await capi.get(f"/v1/campaigns/{campaign['id']}/effectiveness")).json()
    assert report["responded"] == 1
