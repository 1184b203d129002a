"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.events.envelope import Envelope, EventData, InboundEvent


def inbound(
    data: EventData,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    source: str = "/test",
) -> InboundEvent:
    """A catalog event as a consumer's handler receives it (what the relay and Kafka would
    make of it), for tests that call handlers directly."""
    envelope = Envelope.wrap(data, source=source)
    return InboundEvent(
        id=event_id or envelope.id,
        type=envelope.type,
        source=envelope.source,
        tenant_id=envelope.tenant_id,
        time=at or datetime.now(UTC),
        data=envelope.data,
        subject=envelope.subject,
        key=envelope.key,
        topic=envelope.topic,
        partition=0,
        offset=0,
    )


async def create_person(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"first_name": "Ada", "last_name": "Lovelace"} | fields
    response = await api.post("/v1/people", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_company(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/companies", json={"name": "Acme"} | fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def outbox_events(owner: AsyncEngine, tenant: str) -> list[dict[str, Any]]:
    """The events a tenant's requests queued, in commit order (read as the table owner)."""
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("SELECT type, key, data FROM outbox WHERE tenant_id = :t ORDER BY seq"),
            {"t": tenant},
        )
        return [{"type": r.type, "key": r.key, "data": r.data} for r in rows]


async def count_rows(owner: AsyncEngine, table: str, tenant: str) -> int:
    """Rows of `table` in `tenant` (tables force row-level security even on their owner)."""
    async with owner.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        return int(
            await conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": tenant}
            )
            or 0
        )


async def run_import(
    api: httpx.AsyncClient, content: bytes, mapping: dict[str, str], **params: str
) -> dict[str, Any]:
    """POST a CSV import and wait for its job to end; `params` as the query (match_on, entity)."""
    response = await api.post(
        "/v1/imports",
        params={"mapping": json.dumps(mapping)} | params,
        content=content,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    for _ in range(600):
        job: dict[str, Any] = (await api.get(response.headers["location"])).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("import did not finish")
