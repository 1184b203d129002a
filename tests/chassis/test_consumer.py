"""The consumer runner against the real broker, through contacts' unsubscribe handler:
a duplicate delivery changes nothing, a poison message goes to the DLQ at once and the next one
is still processed, and a handler that fails for a while is retried (bounded) before the DLQ."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TypedDict

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.consumer import ConsumerRunner, Handler, Subscription
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.events.catalog import CAMPAIGNS, dlq_topic
from crm_shared.events.envelope import InboundEvent
from crm_shared.service import get_service
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from tests.conftest import eventually, settings_for_tests
from tests.helpers import count_rows, create_person
from tests.kafka_helpers import Received, TopicReader, produce


@contextlib.asynccontextmanager
async def running_consumer(
    subscription: Subscription | None = None,
) -> AsyncIterator[ServiceSettings]:
    # A group of its own, starting at the end: only this test's messages matter.
    settings = settings_for_tests(
        "contacts", kafka_group_id=f"test-{uuid.uuid4().hex[:8]}", kafka_auto_offset_reset="latest"
    )
    engine = create_engine(settings)
    runner = ConsumerRunner(
        settings, create_sessionmaker(engine), subscription or get_service("contacts").subscription
    )
    task = asyncio.create_task(runner.run())

    async def assigned() -> bool:
        return runner.assigned

    try:
        await eventually(assigned)
        yield settings
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()


class Message(TypedDict):
    key: str
    value: bytes
    headers: dict[str, str]


def ours(settings: ServiceSettings) -> Callable[[Received], bool]:
    """Dead letters from this test's consumer group (other groups may read the topic too)."""
    return lambda r: r.headers.get("x-consumer-group") == settings.consumer_group


def unsubscribe(tenant: str, person_id: str, event_id: str | None = None) -> Message:
    return {
        "headers": {
            "ce_specversion": "1.0",
            "ce_id": event_id or str(uuid.uuid4()),
            "ce_source": "/crm/campaigns",
            "ce_type": "crm.consent.withdrawn",
            "ce_tenantid": tenant,
            "ce_time": datetime.now(UTC).isoformat(),
            "content-type": "application/json",
        },
        "value": orjson.dumps(
            {
                "tenant_id": tenant,
                "contact_id": person_id,
                "channel": "email",
                "purpose": "marketing",
                "source": "unsubscribe-link",
                "captured_at": datetime.now(UTC).isoformat(),
                "campaign_id": "c-1",
            }
        ),
        "key": person_id,
    }


async def test_duplicate_delivery_changes_nothing(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    person = await create_person(api)
    message = unsubscribe(tenant, person["id"], event_id=str(uuid.uuid4()))
    async with running_consumer() as settings:
        for _ in range(3):
            await produce(settings, CAMPAIGNS, **message)

        async def applied() -> bool:
            return await count_rows(owner_engine, "consent_ledger", tenant) >= 1

        await eventually(applied)
        await asyncio.sleep(1.5)  # time for the duplicates to be (not) applied
    assert await count_rows(owner_engine, "consent_ledger", tenant) == 1
    overview = (await api.get(f"/v1/people/{person['id']}/consents")).json()
    assert overview["current"][0]["status"] == "withdrawn"
    assert overview["current"][0]["source"] == "campaigns:unsubscribe-link"


async def test_poison_message_goes_to_dlq_and_the_next_is_processed(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    person = await create_person(api)
    poison = unsubscribe(tenant, person["id"])
    poison["value"] = orjson.dumps(
        {"tenant_id": tenant, "contact_id": person["id"], "channel": "carrier-pigeon"}
    )
    good = unsubscribe(tenant, person["id"])
    async with running_consumer() as settings, TopicReader(settings, dlq_topic(CAMPAIGNS)) as dlq:
        await produce(settings, CAMPAIGNS, **poison)
        await produce(settings, CAMPAIGNS, **good)
        dead = await dlq.read(tenant=tenant, count=1, timeout=30, where=ours(settings))

        async def good_applied() -> bool:
            return await count_rows(owner_engine, "consent_ledger", tenant) == 1

        await eventually(good_applied)
    assert len(dead) == 1
    headers = dead[0].headers
    assert headers["ce_id"] == poison["headers"]["ce_id"]
    assert headers["x-error-type"] == "ValidationError"
    assert headers["x-original-topic"] == CAMPAIGNS
    assert headers["x-attempts"] == "1"  # a schema violation is not retried: it cannot heal
    assert "carrier-pigeon" in headers["x-error-message"]
    assert dead[0].data["channel"] == "carrier-pigeon"  # the message itself, unchanged


async def test_message_without_cloudevents_headers_is_dead_lettered_at_once(
    api: httpx.AsyncClient,
    tenant: str,
) -> None:
    person = await create_person(api)
    message = unsubscribe(tenant, person["id"])
    headers = dict(message["headers"])
    del headers["ce_id"]
    async with running_consumer() as settings, TopicReader(settings, dlq_topic(CAMPAIGNS)) as dlq:
        await produce(
            settings,
            CAMPAIGNS,
            key=person["id"],
            value=message["value"],
            headers=headers,
        )
        dead = await dlq.read(tenant=tenant, count=1, timeout=30, where=ours(settings))
    assert dead[0].headers["x-error-type"] == "MalformedEvent"
    assert dead[0].headers["x-attempts"] == "1"


def failing_first(times: int) -> tuple[Subscription, list[int]]:
    """Contacts' subscription whose unsubscribe handler raises `times` times, then works."""
    real = get_service("contacts").subscription
    key = (CAMPAIGNS, "crm.consent.withdrawn")
    calls = [0]

    async def flaky(uow: UnitOfWork, event: InboundEvent) -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise ConnectionError(f"transient failure {calls[0]}")
        await real.handlers[key](uow, event)

    handlers: dict[tuple[str, str], Handler] = {key: flaky}
    return Subscription(handlers=handlers), calls


async def test_a_transient_failure_is_retried_and_applied_once(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    person = await create_person(api)
    subscription, calls = failing_first(2)
    async with running_consumer(subscription) as settings:
        await produce(settings, CAMPAIGNS, **unsubscribe(tenant, person["id"]))

        async def applied() -> bool:
            return await count_rows(owner_engine, "consent_ledger", tenant) == 1

        await eventually(applied)
    assert calls[0] == 3  # the batch's try, the record's first try, and its retry that works


async def test_a_failure_that_persists_is_dead_lettered_after_the_retries(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    person = await create_person(api)
    subscription, calls = failing_first(1_000)
    async with (
        running_consumer(subscription) as settings,
        TopicReader(settings, dlq_topic(CAMPAIGNS)) as dlq,
    ):
        await produce(settings, CAMPAIGNS, **unsubscribe(tenant, person["id"]))
        dead = await dlq.read(tenant=tenant, count=1, timeout=30, where=ours(settings))
    assert dead[0].headers["x-error-type"] == "ConnectionError"
    attempts = int(dead[0].headers["x-attempts"])
    assert attempts == settings.consumer_max_retries + 1
    assert calls[0] == 1 + attempts  # the batch's own try, then the record alone
    assert await count_rows(owner_engine, "consent_ledger", tenant) == 0
