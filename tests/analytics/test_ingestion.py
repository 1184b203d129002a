"""Ingestion through the real broker and the chassis ConsumerRunner over every topic:
redelivered duplicates change nothing, unknown types are skipped, newer schemas with extra
fields are accepted, and out-of-order arrival across topics still gives the right timeline."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx

from crm_analytics.handlers import SUBSCRIPTION
from crm_shared.consumer import ConsumerRunner
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.events.catalog import TOPICS
from crm_shared.events.envelope import Envelope, EventData, dumps
from crm_shared.kafka import new_producer
from crm_shared.settings import ServiceSettings
from tests.analytics.events import SOURCES, interaction, new_id, order, person
from tests.conftest import eventually, settings_for_tests


@contextlib.asynccontextmanager
async def running_consumer() -> AsyncIterator[ServiceSettings]:
    settings = settings_for_tests(
        "analytics", kafka_group_id=f"test-{uuid.uuid4().hex[:8]}", kafka_auto_offset_reset="latest"
    )
    engine = create_engine(settings)
    runner = ConsumerRunner(settings, create_sessionmaker(engine), SUBSCRIPTION)
    task = asyncio.create_task(runner.run())

    async def assigned() -> bool:
        return (
            runner.assigned and len(runner.consumer.assignment()) > 0 if runner.consumer else False
        )

    try:
        await eventually(assigned, timeout=30)
        await asyncio.sleep(1)  # let every partition's position settle at "latest"
        yield settings
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()


def wrap(data: EventData, **extra: object) -> Envelope:
    envelope = Envelope.wrap(data, source=SOURCES[data.topic])
    if extra:
        envelope = Envelope(**{**envelope.__dict__, "data": envelope.data | extra})
    return envelope


async def send(settings: ServiceSettings, *envelopes: Envelope) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for e in envelopes:
            await producer.send_and_wait(
                e.topic, value=dumps(e.data), key=e.key.encode(), headers=e.headers()
            )
    finally:
        await producer.stop()


def test_the_subscription_covers_every_topic() -> None:
    assert set(SUBSCRIPTION.topics) == set(TOPICS) - {"crm.analytics.v1"}


async def test_through_the_broker(api: httpx.AsyncClient, tenant: str) -> None:
    ada = new_id()
    t0 = datetime(2026, 5, 1, 10, tzinfo=UTC)
    created = wrap(person(tenant, ada))
    late_call = wrap(interaction(tenant, ada, t0 + timedelta(hours=2), summary="later call"))
    early_order = wrap(order(tenant, ada, t0 + timedelta(hours=1), "42.00"), loyalty_points=7)
    unknown = Envelope(
        **{**wrap(order(tenant, ada, t0, "1.00")).__dict__, "type": "erp.order.teleported"}
    )
    async with running_consumer() as settings:
        await send(settings, created, late_call)
        await send(settings, unknown, early_order, early_order, early_order)  # redelivered twice

        async def arrived() -> bool:
            items = (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]
            return len(items) >= 3

        await eventually(arrived, timeout=30)
        await asyncio.sleep(1.5)  # time for the duplicates to (not) land
    items = (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]
    assert [i["type"] for i in items] == ["contact.created", "interaction.logged", "order.placed"]
    assert items[1]["occurred_at"] > items[2]["occurred_at"]
    body = (await api.get(f"/v1/customers/{ada}")).json()
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "42.00"}]
