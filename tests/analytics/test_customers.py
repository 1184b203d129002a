"""Customer 360, recomputed scores published only on real changes, and GDPR erasure."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_analytics.migrations_tables import TENANT_TABLES
from crm_analytics.scores.schedule import due_tenants, recompute_tenant
from crm_shared.events import analytics as analytics_events
from tests.analytics.events import (
    Feed,
    cmp,
    ct,
    deal,
    inbound,
    interaction,
    new_id,
    opp,
    order,
    person,
    survey,
    tk,
)
from tests.analytics.test_measures import AS_OF, day, rfm_fixture


async def published(owner: AsyncEngine, tenant: str) -> list[dict[str, Any]]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("SELECT type, key, data FROM outbox WHERE tenant_id = :t ORDER BY seq"),
            {"t": tenant},
        )
        return [{"type": r.type, "key": r.key, "data": r.data} for r in rows]


async def test_customer_360(api: httpx.AsyncClient, feed: Feed, tenant: str) -> None:
    ada = new_id()
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    await feed(
        inbound(person(tenant, ada, company_ids=["co-1"]), at=t0),
        interaction(tenant, ada, t0 + timedelta(days=1), channel="phone"),
        interaction(tenant, ada, t0 + timedelta(days=2), channel="phone"),
        interaction(tenant, ada, t0 + timedelta(days=3), channel="email", kind="email"),
        tk.TicketCreated(
            tenant_id=tenant,
            contact_id=ada,
            ticket_id="t1",
            subject="Broken",
            channel="chat",
            priority="high",
        ),
        tk.TicketCreated(
            tenant_id=tenant,
            contact_id=ada,
            ticket_id="t2",
            subject="Other",
            channel="email",
            priority="low",
        ),
        tk.TicketSolved(tenant_id=tenant, contact_id=ada, ticket_id="t2", solved_at=t0),
        opp.OpportunityCreated.model_validate(
            deal(tenant, ada, "o1", name="Big", stage_id="s1", amount="1200.50")
        ),
        opp.OpportunityCreated.model_validate(
            deal(tenant, ada, "o2", name="Small", stage_id="s1", amount="300")
        ),
        opp.OpportunityWon.model_validate(deal(tenant, ada, "o3", won_at=t0)),
        order(tenant, ada, t0, "100.00"),
        order(tenant, ada, t0 + timedelta(days=5), "50.50"),
        tk.CsatSubmitted(
            tenant_id=tenant, contact_id=ada, ticket_id="t2", score=5, submitted_at=t0
        ),
        ct.ConsentGranted(
            tenant_id=tenant,
            contact_id=ada,
            channel="email",
            purpose="marketing",
            source="form",
            captured_at=t0,
        ),
        ct.ConsentWithdrawn(
            tenant_id=tenant,
            contact_id=ada,
            channel="email",
            purpose="marketing",
            source="link",
            captured_at=t0 + timedelta(days=1),
        ),
        # an older grant arriving late does not override the later withdrawal
        cmp.CampaignConsentWithdrawn(
            tenant_id=tenant,
            contact_id=ada,
            channel="sms",
            purpose="marketing",
            source="stop",
            captured_at=t0,
        ),
    )
    await feed(
        ct.ConsentGranted(
            tenant_id=tenant,
            contact_id=ada,
            channel="email",
            purpose="marketing",
            source="old",
            captured_at=t0 - timedelta(days=9),
        ),
    )
    body = (await api.get(f"/v1/customers/{ada}")).json()
    assert body["profile"]["first_name"] == "Ada"
    assert body["profile"]["company_ids"] == ["co-1"]
    assert body["first_interaction_at"] == "2026-03-01T00:00:00Z"  # the CSAT rating
    channels = {c["channel"]: c["count"] for c in body["channels"]}
    assert channels == {"phone": 2, "email": 2, "chat": 1}  # consent changes are no touchpoints
    assert body["open_tickets"] == 1
    assert body["open_opportunities"] == {
        "count": 2,
        "amounts": [{"currency": "EUR", "amount": "1500.50"}],
    }
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "150.50"}]
    assert body["loyalty_type"] == "loyalists"  # CSAT 5, two orders
    consents = {(c["channel"], c["purpose"]): c["status"] for c in body["consents"]}
    assert consents == {("email", "marketing"): "withdrawn", ("sms", "marketing"): "withdrawn"}
    assert body["scores"] is None  # not computed yet

    # A merge undone voids copied entries: contacts states the consent that counts again.
    email = {"tenant_id": tenant, "contact_id": ada, "channel": "email", "purpose": "marketing"}
    await feed(
        ct.ConsentCorrected(**email, status="granted", captured_at=t0, voided_entry_ids=["c1"]),
        ct.ConsentCorrected(
            **email | {"channel": "sms"}, status="none", captured_at=None, voided_entry_ids=["c2"]
        ),
    )
    body = (await api.get(f"/v1/customers/{ada}")).json()
    consents = {(c["channel"], c["purpose"]): c["status"] for c in body["consents"]}
    assert consents == {("email", "marketing"): "granted"}


async def test_segment_changes_are_published_only_when_they_change(
    api: httpx.AsyncClient, feed: Feed, tenant: str, analytics_owner: AsyncEngine
) -> None:
    await rfm_fixture(feed, tenant)
    first = await api.post("/v1/scores/recompute", params={"as_of": AS_OF})
    assert first.status_code == 200, first.text
    assert first.json()["segment_changes"] == 5
    events = [
        e
        for e in await published(analytics_owner, tenant)
        if e["type"] == "crm.customer.segment_changed"
    ]
    assert {e["key"]: e["data"]["rfm_segment"] for e in events} == {
        "A": "champions",
        "B": "new_customers",
        "C": "need_attention",
        "D": "at_risk",
        "E": "lost",
    }
    # the payloads (written by the database) are the catalog's events, under version 7 ids
    async with analytics_owner.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, type, data FROM outbox WHERE tenant_id = :t"), {"t": tenant}
        )
        catalog = {e.type: e for e in analytics_events.EVENTS}
        ids = set()
        for row in rows:
            assert row.id.version == 7 and row.id.variant == uuid.RFC_4122
            # made now: the first 48 bits are the Unix milliseconds
            assert abs((row.id.int >> 80) - time.time() * 1000) < 600_000
            catalog[row.type].model_validate(row.data)
            ids.add(row.id)
        assert len(ids) == rows.rowcount
    assert events[0]["data"]["previous_rfm_segment"] is None
    # measures broken down by segment or tier: the value tier `standard` is A (300) and D (100)
    window = {"from": "2025-01-01", "to": "2026-04-02"}
    standard = (
        await api.get("/v1/measures/pareto", params=window | {"segment": "standard"})
    ).json()
    assert (standard["customers"], standard["top_revenue"], standard["share"]) == (
        2,
        "300.00",
        75.0,
    )
    champions = (
        await api.get("/v1/measures/pareto", params=window | {"segment": "champions"})
    ).json()
    assert (champions["customers"], champions["share"]) == (1, 100.0)
    again = await api.post("/v1/scores/recompute", params={"as_of": AS_OF})
    assert again.json()["segment_changes"] == 0
    # E buys again: recency ranks shift. New R: E 5, A 4, B 3, C 2, D 1; F: E 2, C 2
    await feed(order(tenant, "E", day(2026, 3, 31), "10"))
    third = (await api.post("/v1/scores/recompute", params={"as_of": AS_OF})).json()
    assert third["segment_changes"] == 3
    events = [
        e
        for e in await published(analytics_owner, tenant)
        if e["type"] == "crm.customer.segment_changed"
    ]
    changes = {
        e["key"]: (e["data"]["previous_rfm_segment"], e["data"]["rfm_segment"]) for e in events[5:]
    }
    assert changes == {
        "B": ("new_customers", "need_attention"),
        "C": ("need_attention", "hibernating"),
        "E": ("lost", "potential_loyalists"),
    }
    scores = (await api.get("/v1/customers/E")).json()["scores"]
    assert (scores["r"], scores["f"], scores["m"], scores["value_tier"]) == (5, 2, 1, "low")
    assert scores["historic_clv"] == "20.00"


async def test_recompute_needs_an_analyst(analytics_app: Any, tenant: str) -> None:
    from tests.conftest import client

    async with client(analytics_app, tenant, roles=["agent"]) as agent:
        assert (await agent.post("/v1/scores/recompute")).status_code == 403


async def test_an_erased_person_is_nowhere_in_the_database(
    api: httpx.AsyncClient, feed: Feed, tenant: str, analytics_owner: AsyncEngine
) -> None:
    zed, lead = new_id(), new_id()
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    old_snapshot = person(
        tenant, zed, first_name="Zebedee", last_name="Quux", email="zq@example.com"
    )
    await feed(
        opp.LeadCreated(
            tenant_id=tenant, lead_id=lead, email="zq@example.com", company_name="Quux Ltd"
        ),
        old_snapshot,
        opp.LeadConverted(tenant_id=tenant, lead_id=lead, contact_id=zed),
        interaction(tenant, zed, t0, summary="Zebedee Quux called from zq@example.com"),
        tk.TicketCreated(
            tenant_id=tenant,
            contact_id=zed,
            ticket_id="t1",
            subject="Zebedee's printer",
            channel="email",
            priority="low",
        ),
        order(tenant, zed, t0, "75.00"),
        survey(tenant, zed, t0, nps=10, intent="unconditional"),
    )
    await feed(ct.ContactErased(tenant_id=tenant, contact_id=zed, erased_at=t0 + timedelta(days=1)))
    # late arrivals after the erasure: an older snapshot and a touchpoint naming the person
    await feed(
        ct.ContactUpdated(
            tenant_id=tenant, contact_id=zed, contact=old_snapshot.contact, changed=["tags"]
        ),
        interaction(tenant, zed, t0 + timedelta(hours=1), summary="Zebedee again"),
    )
    async with analytics_owner.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        for table in TENANT_TABLES:
            hits = await conn.scalar(
                text(f"SELECT count(*) FROM {table} r WHERE r::text ILIKE ANY(:p)"),
                {"p": ["%zebedee%", "%quux%", "%zq@example%"]},
            )
            assert hits == 0, table
    body = (await api.get(f"/v1/customers/{zed}")).json()
    assert body["profile"]["erased"] is True and body["profile"]["first_name"] is None
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "75.00"}]  # aggregates stay
    nps = (
        await api.get("/v1/measures/nps", params={"from": "2026-03-01", "to": "2026-03-02"})
    ).json()
    assert nps["promoters"] == 1
    timeline = (await api.get(f"/v1/customers/{zed}/timeline")).json()["items"]
    assert len(timeline) == 8  # lead (2), person, interaction x2, ticket, order, survey


async def test_arriving_orders_schedule_a_recompute(
    feed: Feed, tenant: str, analytics_app: Any, analytics_owner: AsyncEngine
) -> None:
    sessionmaker, settings = analytics_app.state.sessionmaker, analytics_app.state.settings
    as_of = datetime.fromisoformat(AS_OF)
    await rfm_fixture(feed, tenant)
    assert tenant in await due_tenants(sessionmaker, as_of, timedelta(days=1))
    first = await recompute_tenant(sessionmaker, settings, tenant, as_of)
    assert first is not None and first["segment_changes"] == 5
    assert tenant not in await due_tenants(sessionmaker, as_of, timedelta(days=1))
    await feed(order(tenant, "E", day(2026, 3, 31), "10"))
    assert tenant in await due_tenants(sessionmaker, as_of, timedelta(days=1))
    second = await recompute_tenant(sessionmaker, settings, tenant, as_of)
    assert second is not None and second["segment_changes"] == 3
    # a day later nothing arrived, but recency moved: due again by age
    assert tenant in await due_tenants(sessionmaker, as_of + timedelta(days=2), timedelta(days=1))
    segment_events = [
        e
        for e in await published(analytics_owner, tenant)
        if e["type"] == "crm.customer.segment_changed"
    ]
    assert len(segment_events) == 8


async def test_churn_risk_is_published_when_a_band_is_crossed(
    api: httpx.AsyncClient, feed: Feed, tenant: str, analytics_owner: AsyncEngine
) -> None:
    # regulars buy every month up to now; the lapsed bought every few days a year ago, then
    # stopped (BG/NBD fitted on the 25: P(alive) about 0.93 for the first, 0.001 for the others)
    await feed(
        *(
            order(tenant, f"reg{i}", day(2025, m, 1 + i), "40")
            for i in range(20)
            for m in range(4, 13)
        ),
        *(
            order(tenant, f"gone{i}", day(2025, 3, 1 + 3 * w), "40")
            for i in range(5)
            for w in range(6)
        ),
    )

    async def recompute(as_of: str) -> dict[str, str]:
        before = len(await published(analytics_owner, tenant))
        response = await api.post("/v1/scores/recompute", params={"as_of": as_of})
        assert response.status_code == 200, response.text
        events = (await published(analytics_owner, tenant))[before:]
        return {
            e["key"]: e["data"]["risk_band"]
            for e in events
            if e["type"] == "crm.customer.churn_risk_changed"
        }

    # scored for the first time: only the lapsed crossed a band (from low)
    assert await recompute("2026-01-01T00:00:00+00:00") == {f"gone{i}": "high" for i in range(5)}
    assert await recompute("2026-01-01T00:00:00+00:00") == {}  # nothing changed
    # a year without a purchase: the regulars cross too; the lapsed stay where they were
    later = await recompute("2027-01-01T00:00:00+00:00")
    assert set(later) == {f"reg{i}" for i in range(20)} and "low" not in later.values()
