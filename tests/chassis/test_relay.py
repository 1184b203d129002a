"""The outbox relay against the real broker: order per key with several replicas, and no
event lost or duplicated across a broker outage."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from crm_shared.db import create_engine
from crm_shared.events.catalog import CONTACTS
from crm_shared.relay import OutboxRelay
from crm_shared.settings import ServiceSettings
from tests.conftest import broker_for_tests
from tests.kafka_helpers import Received, TopicReader


@contextlib.asynccontextmanager
async def relays(settings: ServiceSettings, replicas: int) -> AsyncIterator[None]:
    engine = create_engine(settings)
    workers = [OutboxRelay(settings, engine) for _ in range(replicas)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        for w in workers:
            w.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        await engine.dispose()


async def make_history(api: httpx.AsyncClient, people: int, edits: int) -> None:
    """`people` people, each created and then edited `edits` times: versions 1..edits+1."""

    async def one(i: int) -> None:
        created = (await api.post("/v1/people", json={"first_name": f"P{i}"})).json()
        for version in range(1, edits + 1):
            response = await api.patch(
                f"/v1/people/{created['id']}",
                json={"job_title": f"v{version + 1}"},
                headers={"If-Match": f'"{version}"'},
            )
            assert response.status_code == 200, response.text

    await asyncio.gather(*[one(i) for i in range(people)])


def assert_in_key_order(received: list[Received], people: int, versions: int) -> None:
    by_key: dict[str | None, list[int]] = defaultdict(list)
    for r in received:
        by_key[r.key].append(r.data["contact"]["version"])
    assert len(by_key) == people
    for key, seen in by_key.items():
        assert seen == list(range(1, versions + 1)), f"{key}: {seen}"


async def test_two_relays_publish_every_row_once_in_key_order(
    contacts_app: FastAPI,
    contacts_db: ServiceSettings,
    api: httpx.AsyncClient,
    tenant: str,
) -> None:
    await make_history(api, people=20, edits=4)
    async with TopicReader(contacts_db, CONTACTS) as reader, relays(contacts_db, replicas=2):
        received = await reader.read(tenant=tenant, count=100)
    assert len(received) == 100
    assert len({r.headers["ce_id"] for r in received}) == 100
    assert_in_key_order(received, people=20, versions=5)
    first = received[0]
    assert (
        first.headers["ce_specversion"] == "1.0" and first.headers["ce_source"] == "/crm/contacts"
    )
    assert first.headers["content-type"] == "application/json"
    async with contacts_app.state.engine.connect() as conn:
        unpublished = await conn.scalar(
            text("SELECT count(*) FROM outbox WHERE tenant_id = :t AND published_at IS NULL"),
            {"t": tenant},
        )
    assert unpublished == 0


@pytest.mark.broker_outage
@pytest.mark.skipif(
    "TEST_KAFKA_BOOTSTRAP_SERVERS" in os.environ, reason="stops the broker: only the tests' own"
)
async def test_broker_outage_loses_and_duplicates_nothing(
    contacts_app: FastAPI,
    contacts_db: ServiceSettings,
    api: httpx.AsyncClient,
    tenant: str,
) -> None:
    """Kafka stopped: 200 changes still succeed; once it is back, exactly those 200 events
    arrive, each once, in order per person."""
    async with relays(contacts_db, replicas=1):
        await asyncio.to_thread(broker_for_tests, "down")
        try:
            await make_history(api, people=50, edits=3)
            async with contacts_app.state.engine.connect() as conn:
                waiting = await conn.scalar(
                    text(
                        "SELECT count(*) FROM outbox WHERE tenant_id = :t AND published_at IS NULL"
                    ),
                    {"t": tenant},
                )
            assert waiting == 200
        finally:
            await asyncio.to_thread(broker_for_tests, "up")
        async with TopicReader(contacts_db, CONTACTS, from_beginning=True) as reader:
            received = await reader.read(tenant=tenant, count=200, timeout=120, settle=3)
    assert len(received) == 200
    assert len({r.headers["ce_id"] for r in received}) == 200
    assert_in_key_order(received, people=50, versions=4)
