"""What tickets consumes, through the real broker and the consumer runner: value tiers set
the SLA, ERP orders become assets under warranty, contacts feed requester matching, and
erasure and merges reach the tickets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.consumer import ConsumerRunner
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.events.common import ANALYTICS, CONTACTS, ERP_ORDERS
from crm_shared.service import get_service
from crm_shared.settings import ServiceSettings
from tests.conftest import eventually, settings_for_tests
from tests.kafka_helpers import produce
from tests.tickets.conftest import open_ticket


@pytest.fixture(scope="module")
async def consumer(tickets_app: FastAPI) -> AsyncIterator[ServiceSettings]:
    settings = settings_for_tests(
        "tickets", kafka_group_id=f"test-{uuid.uuid4().hex[:8]}", kafka_auto_offset_reset="latest"
    )
    engine = create_engine(settings)
    runner = ConsumerRunner(
        settings, create_sessionmaker(engine), get_service("tickets").subscription
    )
    task = asyncio.create_task(runner.run())

    async def assigned() -> bool:
        return runner.assigned

    try:
        await eventually(assigned, timeout=30)
        yield settings
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()


async def send(
    settings: ServiceSettings, topic: str, ce_type: str, tenant: str, key: str, data: dict[str, Any]
) -> None:
    await produce(
        settings,
        topic,
        key=key,
        value=orjson.dumps({"tenant_id": tenant} | data),
        headers={
            "ce_specversion": "1.0",
            "ce_id": str(uuid.uuid4()),
            "ce_source": "/test",
            "ce_type": ce_type,
            "ce_tenantid": tenant,
            "ce_time": datetime.now(UTC).isoformat(),
            "content-type": "application/json",
        },
    )


async def rows(owner: AsyncEngine, tenant: str, sql: str) -> list[Any]:
    async with owner.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        return list((await conn.execute(text(sql))).all())


async def test_a_key_customer_gets_the_tighter_policy(
    consumer: ServiceSettings, desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    standard = (
        await desk.post("/v1/sla-policies", json={"name": "std", "first_response_minutes": 240})
    ).json()
    key = (
        await desk.post(
            "/v1/sla-policies",
            json={"name": "key", "value_tier": "key", "first_response_minutes": 30},
        )
    ).json()
    before = await open_ticket(desk)
    person = before["requester_id"]
    assert before["sla_policy_id"] == standard["id"]

    change = {
        "contact_id": person,
        "rfm_segment": "champions",
        "value_tier": "key",
        "computed_at": datetime.now(UTC).isoformat(),
    }
    await send(consumer, ANALYTICS, "crm.customer.segment_changed", tenant, person, change)
    stale = change | {
        "value_tier": "low",
        "computed_at": (datetime.now(UTC) - timedelta(days=9)).isoformat(),
    }
    await send(consumer, ANALYTICS, "crm.customer.segment_changed", tenant, person, stale)

    async def tiered() -> bool:
        found = await rows(tickets_owner, tenant, "SELECT value_tier FROM customer_tiers")
        return found == [("key",)]

    await eventually(tiered)
    await asyncio.sleep(0.5)  # the stale event (same partition, after) is applied by now
    assert await rows(tickets_owner, tenant, "SELECT value_tier FROM customer_tiers") == [("key",)]
    # The ticket already open switched to the key policy, keeping the time used so far.
    reviewed = (await desk.get(f"/v1/tickets/{before['id']}")).json()
    assert reviewed["sla_policy_id"] == key["id"] and reviewed["value_tier"] == "key"
    timer = next(t for t in reviewed["sla"] if t["target"] == "first_response")
    assert timer["budget_seconds"] == 30 * 60 and timer["state"] == "running"
    assert datetime.fromisoformat(timer["due_at"]) < datetime.fromisoformat(
        before["sla"][0]["due_at"]
    )
    after = await open_ticket(desk, subject="Again")
    assert after["requester_id"] == person
    assert after["sla_policy_id"] == key["id"] and after["value_tier"] == "key"
    first = next(t for t in after["sla"] if t["target"] == "first_response")
    assert first["budget_seconds"] == 30 * 60


async def test_erp_orders_become_assets_under_warranty(
    consumer: ServiceSettings, desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    person = str(uuid.uuid4())
    recent = datetime.now(UTC) - timedelta(days=30)
    order = {
        "contact_id": person,
        "order_id": "SO-1",
        "placed_at": recent.isoformat(),
        "total": "999.00",
        "currency": "PLN",
        "lines": [
            {
                "sku": "X200",
                "name": "Printer X200",
                "quantity": "1",
                "unit_price": "999.00",
                "serial_number": "SN-1",
                "warranty_months": 24,
            },
            {"sku": "INK", "quantity": "2", "unit_price": "0", "warranty_months": None},
        ],
    }
    old = order | {
        "order_id": "SO-0",
        "placed_at": (recent - timedelta(days=800)).isoformat(),
        "lines": order["lines"][:1],
    }
    for event in (order, order, old):  # the first one twice: one asset per line all the same
        await send(consumer, ERP_ORDERS, "erp.order.placed", tenant, person, event)

    async def arrived() -> bool:
        return len((await desk.get("/v1/assets", params={"contact_id": person})).json()) == 3

    await eventually(arrived)
    assets = (await desk.get("/v1/assets", params={"contact_id": person})).json()
    by_order = {(a["serial_number"], a["under_warranty"]) for a in assets}
    assert by_order == {("SN-1", True), ("SN-1", False), (None, False)}
    current = next(a for a in assets if a["serial_number"] == "SN-1" and a["under_warranty"])
    ticket = await open_ticket(
        desk, requester={"person_id": person}, asset_id=current["id"], order_id="SO-1"
    )
    assert ticket["asset"]["under_warranty"] is True
    assert (
        ticket["asset"]["warranty_until"]
        == (recent.date().replace(year=recent.year + 2)).isoformat()
    )
    # Another customer's ticket cannot carry this purchase (nor show its warranty).
    other = await desk.post(
        "/v1/tickets",
        json={
            "subject": "Mine too?",
            "requester": {"person_id": str(uuid.uuid4())},
            "asset_id": current["id"],
        },
    )
    assert other.status_code == 422
    assert [e["pointer"] for e in other.json()["errors"]] == ["/asset_id"]


async def test_contacts_events_feed_matching_erasure_and_merges(
    consumer: ServiceSettings, desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    known, duplicate = str(uuid.uuid4()), str(uuid.uuid4())
    snapshot: dict[str, Any] = {
        "contact_id": known,
        "first_name": "Lin",
        "last_name": None,
        "primary_email": "lin@example.com",
        "emails": ["lin@example.com"],
        "phones": ["+48601000111"],
        "job_title": None,
        "language": None,
        "timezone": None,
        "country": None,
        "lifecycle_stage": "customer",
        "source": None,
        "tags": [],
        "attributes": {},
        "owner_id": None,
        "relationship_level": None,
        "preferred_channel": None,
        "do_not_contact": False,
        "company_ids": [],
        "version": 1,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    await send(
        consumer,
        CONTACTS,
        "crm.contact.created",
        tenant,
        known,
        {"contact_id": known, "contact": snapshot},
    )

    async def projected() -> bool:
        return bool(await rows(tickets_owner, tenant, "SELECT contact_id FROM known_contacts"))

    await eventually(projected)
    matched = (
        await desk.post(
            "/v1/intake/email",
            json={
                "from": "LIN@example.com",
                "subject": "Hi",
                "text": "secret details",
                "message_id": "<l1@x>",
            },
        )
    ).json()
    ticket = (await desk.get(f"/v1/tickets/{matched['ticket_id']}")).json()
    assert ticket["requester_id"] == known  # matched locally, no new person in contacts

    other = await open_ticket(desk, requester={"person_id": duplicate}, subject="dup's ticket")
    merged = {"contact_id": known, "merged_ids": [duplicate]}
    await send(consumer, CONTACTS, "crm.contact.merged", tenant, known, merged)

    async def moved() -> bool:
        got = (await desk.get(f"/v1/tickets/{other['id']}")).json()
        return bool(got["requester_id"] == known)

    await eventually(moved)

    erased = {"contact_id": known, "erased_at": datetime.now(UTC).isoformat()}
    await send(consumer, CONTACTS, "crm.contact.erased", tenant, known, erased)

    async def scrubbed() -> bool:
        messages = (await desk.get(f"/v1/tickets/{ticket['id']}/messages")).json()
        return bool(messages) and all(m["body"] == "[erased]" for m in messages)

    await eventually(scrubbed)
    for ticket_id in (ticket["id"], other["id"]):
        got = (await desk.get(f"/v1/tickets/{ticket_id}")).json()
        assert got["subject"] == "[erased]"
    assert await rows(tickets_owner, tenant, "SELECT contact_id FROM known_contacts") == []
