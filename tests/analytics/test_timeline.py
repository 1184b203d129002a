"""The omnichannel timeline: every source lands on the person (and their companies), newest
first, whatever order the events arrived in; leads and merged duplicates follow the person."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.analytics.events import (
    Feed,
    cmp,
    company,
    ct,
    deal,
    inbound,
    interaction,
    new_id,
    opp,
    order,
    person,
    tk,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def all_pages(api: httpx.AsyncClient, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await api.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


async def test_every_source_lands_on_one_timeline_newest_first(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    ada = new_id()
    events: list[Any] = [
        inbound(person(tenant, ada), at=T0),
        interaction(tenant, ada, T0 + timedelta(hours=1), channel="phone", kind="call"),
        interaction(tenant, ada, T0 + timedelta(hours=2), channel="email", kind="email"),
        cmp.CampaignTouchRecorded(
            tenant_id=tenant,
            contact_id=ada,
            campaign_id="c-1",
            touch_id=new_id(),
            kind="clicked",
            channel="email",
            occurred_at=T0 + timedelta(hours=3),
        ),
        tk.TicketSolved(
            tenant_id=tenant,
            contact_id=ada,
            ticket_id="tk-1",
            solved_at=T0 + timedelta(hours=4),
            first_response_seconds=60,
            resolution_seconds=3600,
        ),
        opp.OpportunityWon.model_validate(deal(tenant, ada, "o-1", won_at=T0 + timedelta(hours=5))),
        order(tenant, ada, T0 + timedelta(hours=6), "250.00"),
    ]
    random.Random(7).shuffle(events)  # arrival order across topics is not time order
    await feed(*events)

    items = await all_pages(api, f"/v1/customers/{ada}/timeline", limit=2)
    types = [i["type"] for i in items]
    assert types[:6] == [
        "order.placed",
        "opportunity.won",
        "ticket.solved",
        "campaign.touch_recorded",
        "interaction.logged",
        "interaction.logged",
    ]
    assert types[-1] == "contact.created"
    assert len({i["id"] for i in items}) == len(items) == 7
    assert items[0]["source"] == {
        "service": "erp",
        "entity": "order",
        "id": items[0]["source"]["id"],
    }
    assert items[0]["summary"] == "Order placed 250.00 EUR"
    assert items[3]["channel"] == "email" and items[3]["direction"] == "inbound"

    emails = await all_pages(api, f"/v1/customers/{ada}/timeline", channel="email")
    assert [i["type"] for i in emails] == ["campaign.touch_recorded", "interaction.logged"]
    erp_only = await all_pages(api, f"/v1/customers/{ada}/timeline", source="erp")
    assert [i["type"] for i in erp_only] == ["order.placed"]
    calls = await all_pages(
        api,
        f"/v1/customers/{ada}/timeline",
        type="interaction.logged",
        source="contacts:interaction",
    )
    assert len(calls) == 2
    window = await all_pages(
        api,
        f"/v1/customers/{ada}/timeline",
        since=(T0 + timedelta(hours=2)).isoformat(),
        until=(T0 + timedelta(hours=4)).isoformat(),
    )
    assert [i["type"] for i in window] == ["campaign.touch_recorded", "interaction.logged"]


async def test_same_time_entries_page_stably_without_gaps_or_repeats(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    ada = new_id()
    await feed(*[interaction(tenant, ada, T0) for _ in range(5)])
    first = await all_pages(api, f"/v1/customers/{ada}/timeline", limit=2)
    # new entries arriving between pages do not shift what the cursor returns
    page = (await api.get(f"/v1/customers/{ada}/timeline", params={"limit": 2})).json()
    await feed(interaction(tenant, ada, T0 + timedelta(days=1)))
    rest = await all_pages(
        api, f"/v1/customers/{ada}/timeline", limit=2, cursor=page["next_cursor"]
    )
    assert [i["id"] for i in page["items"] + rest] == [i["id"] for i in first]
    assert len(first) == 5


async def test_redelivered_events_change_nothing(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    ada = new_id()
    events = [inbound(person(tenant, ada)), inbound(order(tenant, ada, T0, "10.00"))]
    await feed(*events)
    await feed(*events)  # a replay under a new consumer group: same event ids
    items = await all_pages(api, f"/v1/customers/{ada}/timeline")
    assert len(items) == 2
    body = (await api.get(f"/v1/customers/{ada}")).json()
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "10.00"}]


async def test_a_converted_leads_history_moves_to_the_person(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    lead, ada = new_id(), new_id()
    await feed(
        opp.LeadCreated(tenant_id=tenant, lead_id=lead, email="ada@example.com"),
        opp.LeadAssigned(tenant_id=tenant, lead_id=lead, owner_id="rep-2", reason="round robin"),
        person(tenant, ada),
    )
    assert len(await all_pages(api, f"/v1/customers/{ada}/timeline")) == 1
    await feed(opp.LeadConverted(tenant_id=tenant, lead_id=lead, contact_id=ada))
    types = {i["type"] for i in await all_pages(api, f"/v1/customers/{ada}/timeline")}
    assert types == {"contact.created", "lead.created", "lead.assigned", "lead.converted"}
    # a lead event that arrives after the conversion still lands on the person
    await feed(opp.LeadAssigned(tenant_id=tenant, lead_id=lead, owner_id="rep-3", reason="manual"))
    assert len(await all_pages(api, f"/v1/customers/{ada}/timeline")) == 5


async def test_a_merge_moves_the_duplicates_entries_to_the_survivor(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    survivor, duplicate = new_id(), new_id()
    await feed(
        person(tenant, survivor),
        person(tenant, duplicate, first_name="A."),
        interaction(tenant, duplicate, T0, summary="Called the duplicate"),
        order(tenant, duplicate, T0, "40.00"),
    )
    await feed(ct.ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[duplicate]))
    await feed(interaction(tenant, duplicate, T0 + timedelta(days=1), summary="Late event"))
    items = await all_pages(api, f"/v1/customers/{survivor}/timeline")
    summaries = [i["summary"] for i in items]
    assert "Called the duplicate" in summaries and "Late event" in summaries
    assert all(i["contact_id"] == survivor for i in items)
    merged_view = (await api.get(f"/v1/customers/{duplicate}")).json()
    assert merged_view["contact_id"] == survivor
    assert merged_view["lifetime_revenue"] == [{"currency": "EUR", "amount": "40.00"}]


async def test_company_timeline_rolls_up_subsidiaries_and_their_people(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    group, subsidiary, other = new_id(), new_id(), new_id()
    ada, bob = new_id(), new_id()
    await feed(
        company(tenant, group, "Group"),
        company(tenant, subsidiary, "Subsidiary", parent_id=group),
        company(tenant, other, "Elsewhere"),
        person(tenant, ada, company_ids=[subsidiary]),
        person(tenant, bob, company_ids=[other]),
        interaction(tenant, ada, T0, summary="Ada at the subsidiary"),
        interaction(tenant, bob, T0, summary="Bob elsewhere"),
        order(tenant, bob, T0, "99.00", company_id=subsidiary),
    )
    items = await all_pages(api, f"/v1/companies/{group}/timeline")
    summaries = {i["summary"] for i in items}
    assert "Ada at the subsidiary" in summaries
    assert "Order placed 99.00 EUR" in summaries  # filed under the subsidiary
    assert "Bob elsewhere" not in summaries
    assert {"Company Group created", "Company Subsidiary created"} <= summaries
    only_sub = await all_pages(api, f"/v1/companies/{subsidiary}/timeline")
    assert "Company Group created" not in {i["summary"] for i in only_sub}


async def test_bad_queries_are_problems(api: httpx.AsyncClient, tenant: str) -> None:
    url = f"/v1/customers/{new_id()}/timeline"
    response = await api.get(url, params={"since": T0.isoformat(), "until": T0.isoformat()})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await api.get(url, params={"cursor": "not-a-cursor"})).status_code == 422
    assert (await api.get(url, params={"since": "2026-01-01T00:00:00"})).status_code == 422
    assert (await api.get(url, params={"limit": 500})).status_code == 422
    missing = await api.get(f"/v1/customers/{new_id()}")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404


async def test_another_tenant_sees_nothing(
    api: httpx.AsyncClient, feed: Feed, tenant: str, analytics_app: Any
) -> None:
    from tests.conftest import client

    ada = new_id()
    await feed(person(tenant, ada), order(tenant, ada, T0, "5.00"))
    async with client(analytics_app, "someone-else", roles=["analyst"]) as other:
        response = await other.get(f"/v1/customers/{ada}/timeline")
        assert response.json()["items"] == []
        assert (await other.get(f"/v1/customers/{ada}")).status_code == 404
    assert len((await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]) == 2


async def test_chained_merges_end_at_the_last_survivor(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    a, b, c = new_id(), new_id(), new_id()
    await feed(interaction(tenant, a, T0, summary="on A"))
    await feed(ct.ContactMerged(tenant_id=tenant, contact_id=b, merged_ids=[a]))
    await feed(ct.ContactMerged(tenant_id=tenant, contact_id=c, merged_ids=[b]))
    await feed(interaction(tenant, a, T0 + timedelta(hours=1), summary="late on A"))
    summaries = {i["summary"] for i in await all_pages(api, f"/v1/customers/{c}/timeline")}
    assert {"on A", "late on A"} <= summaries
    assert await all_pages(api, f"/v1/customers/{b}/timeline") == await all_pages(
        api, f"/v1/customers/{c}/timeline"
    )


async def test_an_unmerge_gives_the_restored_person_their_history_back(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    survivor, restored = new_id(), new_id()
    await feed(
        interaction(tenant, survivor, T0, summary="survivor's call"),
        interaction(tenant, restored, T0, summary="restored's call"),
        order(tenant, restored, T0, "30.00"),
    )
    await feed(ct.ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[restored]))
    await feed(interaction(tenant, restored, T0 + timedelta(hours=1), summary="while merged"))
    merged = await all_pages(api, f"/v1/customers/{survivor}/timeline")
    assert len(merged) == 5  # 3 calls, the order, the merge
    unmerge = inbound(person(tenant, survivor))  # any contacts event, retyped below
    unmerge = type(unmerge)(
        **{
            **unmerge.__dict__,
            "type": "crm.contact.unmerged",
            "data": {
                "tenant_id": tenant,
                "contact_id": survivor,
                "merge_id": "m-1",
                "restored_ids": [restored],
            },
        }
    )
    await feed(unmerge)
    theirs = {i["summary"] for i in await all_pages(api, f"/v1/customers/{restored}/timeline")}
    assert theirs == {"restored's call", "while merged", "Order placed 30.00 EUR"}
    mine = {i["summary"] for i in await all_pages(api, f"/v1/customers/{survivor}/timeline")}
    assert mine == {
        "survivor's call",
        "Merged 1 duplicate(s) into this person",
        "Undid the merge of 1 person(s)",
    }
    view = (await api.get(f"/v1/customers/{restored}")).json()
    assert view["contact_id"] == restored
    assert view["lifetime_revenue"] == [{"currency": "EUR", "amount": "30.00"}]
