"""End to end over the real broker: contacts publishes a person and their consent, campaigns'
consumer projects them, an audience is built, and the person's unsubscribe travels back to
contacts' consent ledger."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from crm_shared.consumer import ConsumerRunner
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.relay import OutboxRelay
from crm_shared.service import get_service
from tests.campaigns.helpers import build, make_campaign, make_segment, move, tagged
from tests.conftest import eventually, settings_for_tests


@contextlib.asynccontextmanager
async def workers(service: str) -> AsyncIterator[None]:
    """The service's relay and a consumer in a group of its own, starting at the end."""
    settings = settings_for_tests(
        service, kafka_group_id=f"test-{uuid.uuid4().hex[:8]}", kafka_auto_offset_reset="latest"
    )
    engine = create_engine(settings)
    relay = OutboxRelay(settings, engine)
    runner = ConsumerRunner(
        settings, create_sessionmaker(engine), get_service(service).subscription
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]

    async def assigned() -> bool:
        return runner.assigned

    try:
        await eventually(assigned, timeout=30)
        yield
    finally:
        relay.stop()
        runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await engine.dispose()


async def test_unsubscribe_reaches_the_contacts_consent_ledger(
    api: httpx.AsyncClient, capi: httpx.AsyncClient, contacts_app: FastAPI
) -> None:
    async with workers("campaigns"), workers("contacts"):
        person = (
            await api.post(
                "/v1/people",
                json={
                    "first_name": "Ada",
                    "emails": [
                        {"email": f"ada-{uuid.uuid4().hex[:6]}@example.com", "primary": True}
                    ],
                    "tags": ["e2e"],
                },
            )
        ).json()
        consents = f"/v1/people/{person['id']}/consents"
        granted = await api.post(
            consents,
            json={
                "channel": "email",
                "purpose": "marketing",
                "status": "granted",
                "source": "form",
            },
        )
        assert granted.status_code == 201, granted.text
        segment = await make_segment(capi, tagged("e2e"))

        async def projected() -> bool:
            preview = (await capi.get(f"/v1/segments/{segment}/preview")).json()
            return bool(preview["count"] == 1)

        await eventually(projected, timeout=30)
        campaign = await make_campaign(capi, [segment])

        async def consent_arrived() -> bool:
            return bool((await build(capi, campaign["id"]))["members"] == 1)

        await eventually(consent_arrived, timeout=30)
        await move(capi, campaign["id"], "scheduled")
        await move(capi, campaign["id"], "running")
        touch = {
            "provider_event_id": f"unsub-{uuid.uuid4()}",
            "campaign_id": campaign["id"],
            "contact_id": person["id"],
            "kind": "unsubscribed",
        }
        assert (await capi.post("/v1/touches", json=touch)).status_code == 201

        async def withdrawn() -> bool:
            current = (await api.get(consents)).json()["current"]
            return bool(current and current[0]["status"] == "withdrawn")

        await eventually(withdrawn, timeout=30)
        overview = (await api.get(consents)).json()
        assert overview["current"][0]["source"] == "campaigns:unsubscribe"
        assert [e["status"] for e in overview["ledger"]] == ["granted", "withdrawn"]
