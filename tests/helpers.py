"""Small helpers the tests share."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


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
