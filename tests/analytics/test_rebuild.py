"""`crm analytics rebuild` through the real broker: the replay reproduces the projections byte
for byte, the API answers all along, and events arriving meanwhile end up in the new tables.

The events go to private copies of the topics (the real ones carry every other test's events),
with the same handlers subscribed under the private names. The rebuild replaces the live tables
of the test database as a whole, so these tests start from empty ones."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from sqlalchemy import text

from crm_analytics.handlers import SUBSCRIPTION
from crm_analytics.rebuild import REBUILT_TABLES, owner_dsn, rebuild
from crm_shared.consumer import ConsumerRunner, Subscription
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.events import contacts as ct
from crm_shared.events import opportunities as opp
from crm_shared.events.envelope import Envelope, EventData, dumps
from crm_shared.kafka import client_options, ensure_topics, new_producer
from crm_shared.settings import ServiceSettings
from tests.analytics.events import SOURCES, interaction, new_id, order, person
from tests.conftest import eventually, settings_for_tests

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
PROJECTIONS = [t for t in REBUILT_TABLES if t != "inbox"]  # the inbox records when, too


@dataclass
class Topics:
    """Private copies of the subscribed topics and the subscription over them."""

    prefix: str
    settings: ServiceSettings
    subscription: Subscription = field(init=False)

    def __post_init__(self) -> None:
        self.subscription = replace(
            SUBSCRIPTION,
            handlers={(self.prefix + t, kind): h for (t, kind), h in SUBSCRIPTION.handlers.items()},
        )

    async def send(self, *envelopes: Envelope) -> None:
        producer = new_producer(self.settings)
        await producer.start()
        try:
            for e in envelopes:
                await producer.send_and_wait(
                    self.prefix + e.topic, dumps(e.data), key=e.key.encode(), headers=e.headers()
                )
        finally:
            await producer.stop()


@pytest.fixture
async def topics() -> AsyncIterator[Topics]:
    settings = settings_for_tests("analytics", kafka_group_id=f"test-{uuid.uuid4().hex[:8]}")
    prefix = f"test-{uuid.uuid4().hex[:8]}."
    names = [prefix + t for t in SUBSCRIPTION.topics]
    await ensure_topics(settings, names, partitions=2)
    yield Topics(prefix, settings)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture
async def empty_live_tables(analytics_app: FastAPI) -> None:
    owner = await asyncpg.connect(owner_dsn(analytics_app.state.settings))
    try:
        await owner.execute(f"TRUNCATE {', '.join(REBUILT_TABLES)}")
    finally:
        await owner.close()


@contextlib.asynccontextmanager
async def live_consumer(topics: Topics) -> AsyncIterator[None]:
    engine = create_engine(topics.settings)
    runner = ConsumerRunner(topics.settings, create_sessionmaker(engine), topics.subscription)
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()


def wrap(data: EventData, at: datetime) -> Envelope:
    return Envelope(**{**Envelope.wrap(data, source=SOURCES[data.topic]).__dict__, "time": at})


def history(tenant: str, ada: str) -> list[Envelope]:
    """A person with a duplicate merged in, a converted lead, orders, an erased person."""
    dup, lead, eve = new_id(), new_id(), new_id()
    placed = order(tenant, dup, T0 + timedelta(days=2), "30.00")
    events: list[tuple[EventData, timedelta]] = [
        (person(tenant, ada), timedelta(0)),
        (person(tenant, dup, first_name="Ada L."), timedelta(hours=1)),
        (
            interaction(tenant, dup, T0 + timedelta(days=1), summary="asked for a quote"),
            timedelta(days=1),
        ),
        (placed, timedelta(days=2)),
        (
            opp.LeadCreated(tenant_id=tenant, lead_id=lead, email="ada@example.com"),
            timedelta(days=3),
        ),
        (opp.LeadConverted(tenant_id=tenant, lead_id=lead, contact_id=ada), timedelta(days=4)),
        (ct.ContactMerged(tenant_id=tenant, contact_id=ada, merged_ids=[dup]), timedelta(days=5)),
        (order(tenant, ada, T0 + timedelta(days=6), "12.50"), timedelta(days=6)),
        (person(tenant, eve, first_name="Eve", email="eve@example.com"), timedelta(days=7)),
        (interaction(tenant, eve, T0 + timedelta(days=8), summary="Eve's call"), timedelta(days=8)),
        (
            ct.ContactErased(tenant_id=tenant, contact_id=eve, erased_at=T0 + timedelta(days=9)),
            timedelta(days=9),
        ),
    ]
    envelopes = [wrap(data, T0 + offset) for data, offset in events]
    unknown = Envelope(**{**envelopes[3].__dict__, "id": new_id(), "type": "erp.order.teleported"})
    return [*envelopes, envelopes[3], unknown]  # a redelivered order, a type nobody reads


async def projections(app: FastAPI, tenant: str) -> dict[str, list[str]]:
    """Every row of the tenant in every projection, as PostgreSQL prints it."""
    rows = {}
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
        for table in PROJECTIONS:
            found = await session.scalars(text(f"SELECT r::text FROM {table} r ORDER BY 1"))
            rows[table] = list(found)
    return rows


@dataclass
class Poller:
    """Reads a customer's timeline in a loop and keeps what it saw."""

    api: httpx.AsyncClient
    contact_id: str
    seen: list[tuple[int, int]] = field(default_factory=list)  # (status, entries)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self.stopping.is_set():
            response = await self.api.get(f"/v1/customers/{self.contact_id}/timeline")
            items = response.json().get("items", []) if response.status_code == 200 else []
            self.seen.append((response.status_code, len(items)))
            await asyncio.sleep(0.01)


async def test_the_replay_reproduces_the_projections_byte_for_byte_while_the_api_answers(
    analytics_app: FastAPI,
    api: httpx.AsyncClient,
    tenant: str,
    topics: Topics,
    empty_live_tables: None,
) -> None:
    ada = new_id()
    events = history(tenant, ada)
    await topics.send(*events)
    async with live_consumer(topics):

        async def applied() -> bool:
            return len((await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]) == 8

        await eventually(applied, timeout=60)
        await asyncio.sleep(1)  # the consumer is idle: everything is in
    before = await projections(analytics_app, tenant)
    entries = len((await api.get(f"/v1/customers/{ada}/timeline")).json()["items"])

    poller = Poller(api, ada)
    polling = asyncio.create_task(poller.run())
    reads_during: list[int] = []
    result = await rebuild(
        topics.settings,
        topics.subscription,
        on_progress=lambda read, total: reads_during.append(len(poller.seen)),
    )
    poller.stopping.set()
    await polling

    assert await projections(analytics_app, tenant) == before
    filled = {table: len(rows) for table, rows in before.items() if rows}
    assert filled == {
        "contacts": 3,
        "contact_aliases": 2,
        "orders": 2,
        # kept by the triggers a rebuild copies with the tables
        "customer_order_stats": 1,
        "order_sequence": 2,
        "timeline_entries": 10,
    }
    assert result.events_read == len(events)
    assert result.events_applied == len(events) - 2  # the duplicate and the unknown type
    assert result.matches, result.tables
    assert {t.table for t in result.tables} == set(REBUILT_TABLES)
    assert poller.seen and all(seen == (200, entries) for seen in poller.seen)
    assert len(poller.seen) > reads_during[0]  # it kept answering once the replay was under way


async def test_events_arriving_during_the_rebuild_land_once_in_the_new_tables(
    analytics_app: FastAPI,
    api: httpx.AsyncClient,
    tenant: str,
    topics: Topics,
    empty_live_tables: None,
) -> None:
    ada = new_id()
    await topics.send(*history(tenant, ada))
    late = [
        wrap(interaction(tenant, ada, T0 + timedelta(days=20 + i), summary=f"late {i}"), T0)
        for i in range(3)
    ]
    sending: list[asyncio.Task[None]] = []

    def send_late(read: int, total: int) -> None:
        if not sending:  # while the replay runs, with the live consumer going on
            sending.append(asyncio.create_task(topics.send(*late)))

    async with live_consumer(topics):
        result = await rebuild(topics.settings, topics.subscription, on_progress=send_late)
        await sending[0]

        async def all_in() -> bool:
            items = (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]
            return len(items) == 8 + len(late)

        await eventually(all_in, timeout=60)
        await asyncio.sleep(1.5)  # time for a second copy to (not) land
    items = (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]
    summaries = [i["summary"] for i in items]
    assert sorted(s for s in summaries if s and s.startswith("late")) == [
        "late 0",
        "late 1",
        "late 2",
    ]
    assert result.events_read >= len(history(tenant, ada))
