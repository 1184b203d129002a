"""What opportunities consumes from crm.contacts.v1: the email read model behind duplicate
flags, erasure of lead PII, and merges repointing deals and leads. Replays change nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.consumer import ConsumerRunner
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.events.catalog import (
    CONTACTS,
    ContactCreated,
    ContactErased,
    ContactMerged,
    ContactSnapshot,
)
from crm_shared.events.envelope import Envelope, EventData, InboundEvent
from crm_shared.events.erp import OrderCancelled, OrderPlaced
from crm_shared.service import get_service
from crm_shared.uow import UnitOfWork
from tests.conftest import eventually, settings_for_tests
from tests.kafka_helpers import produce
from tests.opportunities.conftest import ok
from tests.opportunities.helpers import make_deal, make_pipeline


def snapshot(contact_id: str, *emails: str) -> ContactSnapshot:
    return ContactSnapshot(
        contact_id=contact_id,
        first_name="Ewa",
        last_name=None,
        primary_email=emails[0] if emails else None,
        emails=list(emails),
        phones=[],
        job_title=None,
        language=None,
        timezone=None,
        country=None,
        lifecycle_stage="lead",
        source=None,
        tags=[],
        attributes={},
        owner_id=None,
        relationship_level=None,
        preferred_channel=None,
        do_not_contact=False,
        company_ids=[],
        version=1,
        updated_at=datetime.now(UTC),
    )


async def deliver(app: FastAPI, data: EventData, times: int = 2) -> None:
    """Hand the event to the service's handler as the consumer runner would (twice: a replay
    under another consumer group must change nothing)."""
    envelope = Envelope.wrap(data, source="/crm/contacts")
    event = InboundEvent(
        id=envelope.id,
        type=envelope.type,
        source=envelope.source,
        tenant_id=envelope.tenant_id,
        time=envelope.time,
        data=envelope.data,
        subject=envelope.subject,
        key=envelope.key,
        topic=envelope.topic,
        partition=0,
        offset=0,
    )
    handler = get_service("opportunities").subscription.handlers[(data.topic, data.type)]
    for _ in range(times):
        uow = UnitOfWork(
            app.state.sessionmaker, tenant_id=data.tenant_id, actor=None, source="/crm/test"
        )
        async with uow:
            await handler(uow, event)


async def lead(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return dict(await ok(await api.post("/v1/leads", json={"first_name": "Ewa"} | fields), 201))


async def test_known_contact_email_flags_a_new_lead(
    opp_app: FastAPI, admin: httpx.AsyncClient, tenant: str
) -> None:
    contact_id = str(uuid.uuid4())
    await deliver(
        opp_app,
        ContactCreated(
            tenant_id=tenant, contact_id=contact_id, contact=snapshot(contact_id, "ewa@x.example")
        ),
    )
    flagged = await lead(admin, email="EWA@x.example")
    assert flagged["possible_duplicate"] and flagged["duplicate_of_contact_id"] == contact_id
    assert not (await lead(admin, email="other@x.example"))["possible_duplicate"]


async def test_erasure_scrubs_the_persons_leads(
    opp_app: FastAPI, admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    contact_id = str(uuid.uuid4())
    await deliver(
        opp_app,
        ContactCreated(
            tenant_id=tenant, contact_id=contact_id, contact=snapshot(contact_id, "ewa@x.example")
        ),
    )
    theirs = await lead(
        admin, email="ewa@x.example", last_name="Kowal", phone="+48601234567", message="call me"
    )
    other = await lead(admin, email="jan@x.example", last_name="Nowak")
    await deliver(
        opp_app, ContactErased(tenant_id=tenant, contact_id=contact_id, erased_at=datetime.now(UTC))
    )
    scrubbed = await ok(await admin.get(f"/v1/leads/{theirs['id']}"))
    for field in ("first_name", "last_name", "email", "phone", "message"):
        assert scrubbed[field] is None, field
    kept = await ok(await admin.get(f"/v1/leads/{other['id']}"))
    assert kept["email"] == "jan@x.example" and kept["last_name"] == "Nowak"
    async with opp_owner.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        left = await conn.scalar(
            text("SELECT count(*) FROM contact_emails WHERE contact_id = :c"), {"c": contact_id}
        )
    assert left == 0
    # A later lead with that email is no longer matched to the erased person.
    assert (await lead(admin, email="ewa@x.example"))["duplicate_of_contact_id"] is None


async def test_merge_repoints_deals_and_leads(
    opp_app: FastAPI, admin: httpx.AsyncClient, tenant: str
) -> None:
    survivor, loser = str(uuid.uuid4()), str(uuid.uuid4())
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline, person_id=loser)
    untouched = await make_deal(admin, pipeline, person_id=str(uuid.uuid4()))
    await deliver(opp_app, ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[loser]))
    moved = await ok(await admin.get(f"/v1/opportunities/{deal['id']}"))
    assert moved["person_id"] == survivor and moved["version"] == 2
    same = await ok(await admin.get(f"/v1/opportunities/{untouched['id']}"))
    assert same["person_id"] == untouched["person_id"]
    listed = await ok(await admin.get("/v1/opportunities", params={"person_id": survivor}))
    assert [o["id"] for o in listed["items"]] == [deal["id"]]


async def test_erasure_arrives_through_kafka(
    opp_app: FastAPI, admin: httpx.AsyncClient, tenant: str
) -> None:
    settings = settings_for_tests(
        "opportunities",
        kafka_group_id=f"test-{uuid.uuid4().hex[:8]}",
        kafka_auto_offset_reset="latest",
    )
    engine = create_engine(settings)
    runner = ConsumerRunner(
        settings, create_sessionmaker(engine), get_service("opportunities").subscription
    )
    task = asyncio.create_task(runner.run())
    contact_id = str(uuid.uuid4())
    try:

        async def assigned() -> bool:
            return runner.assigned

        await eventually(assigned)
        created = ContactCreated(
            tenant_id=tenant, contact_id=contact_id, contact=snapshot(contact_id, "k@x.example")
        )
        erased = ContactErased(tenant_id=tenant, contact_id=contact_id, erased_at=datetime.now(UTC))
        target = await lead(admin, email="k@x.example")
        for data in (created, erased):
            envelope = Envelope.wrap(data, source="/crm/contacts")
            await produce(
                settings,
                CONTACTS,
                key=envelope.key,
                value=orjson.dumps(envelope.data),
                headers={k: v.decode() for k, v in envelope.headers()},
            )

        async def scrubbed() -> bool:
            got = await ok(await admin.get(f"/v1/leads/{target['id']}"))
            return bool(got["email"] is None)

        await eventually(scrubbed, timeout=30)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()


async def test_erp_orders_link_to_the_deal_they_reference(
    opp_app: FastAPI, admin: httpx.AsyncClient, tenant: str
) -> None:
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline)
    placed = OrderPlaced(
        tenant_id=tenant,
        contact_id=deal["person_id"],
        order_id="SO-1001",
        opportunity_id=deal["id"],
        placed_at=datetime.now(UTC),
        total=Decimal("1230.00"),
        currency="EUR",
    )
    await deliver(opp_app, placed)
    orphan = placed.model_copy(update={"order_id": "SO-1002", "opportunity_id": str(uuid.uuid4())})
    await deliver(opp_app, orphan)
    orders = await ok(await admin.get(f"/v1/opportunities/{deal['id']}/orders"))
    assert [(o["order_id"], o["total"], o["cancelled_at"]) for o in orders] == [
        ("SO-1001", "1230.00", None)
    ]
    await deliver(
        opp_app,
        OrderCancelled(
            tenant_id=tenant,
            contact_id=deal["person_id"],
            order_id="SO-1001",
            cancelled_at=datetime.now(UTC),
        ),
    )
    orders = await ok(await admin.get(f"/v1/opportunities/{deal['id']}/orders"))
    assert orders[0]["cancelled_at"] is not None
