"""Fixtures of the tickets tests: the tickets app over crm_tickets_test, wired to the real
contacts app in-process for creating unknown requesters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.db import create_engine
from crm_shared.events.envelope import InboundEvent
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from crm_tickets.directory.service import ContactsClient
from crm_tickets.handlers import apply_segment_changed
from tests.conftest import client, running_app


@pytest.fixture(scope="session")
async def tickets_app(contacts_app: FastAPI) -> AsyncIterator[FastAPI]:
    async with running_app("tickets") as app:
        settings: ServiceSettings = app.state.settings
        app.state.contacts = ContactsClient(
            settings, transport=httpx.ASGITransport(app=contacts_app)
        )
        app.state.contacts.base_url = "http://contacts"
        yield app


@pytest.fixture(scope="session")
async def tickets_owner(tickets_app: FastAPI) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(tickets_app.state.settings, migration=True)
    yield engine
    await engine.dispose()


Desk = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def desk_for(tickets_app: FastAPI) -> AsyncIterator[Desk]:
    """`desk_for(tenant, roles=[...], sub=...)`: a client of the tickets API."""
    clients: list[httpx.AsyncClient] = []

    def make(tenant: str, roles: list[str] | None = None, sub: str = "user-1") -> httpx.AsyncClient:
        c = client(tickets_app, tenant, roles, sub)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
def desk(desk_for: Desk, tenant: str) -> httpx.AsyncClient:
    return desk_for(tenant)


async def tickets_events(owner: AsyncEngine, tenant: str) -> list[dict[str, Any]]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("SELECT type, key, data FROM outbox WHERE tenant_id = :t ORDER BY seq"),
            {"t": tenant},
        )
        return [{"type": r.type, "key": r.key, "data": r.data} for r in rows]


async def open_ticket(desk: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Printer broken",
        "requester": {"email": "ada@example.com", "name": "Ada Lovelace"},
    } | fields
    response = await desk.post("/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def set_tier(app: FastAPI, tenant: str, contact_id: str, tier: str) -> None:
    """analytics' customer.segment_changed, through the consumer's handler."""
    event = InboundEvent(
        id=str(uuid.uuid4()),
        type="crm.customer.segment_changed",
        source="/crm/analytics",
        tenant_id=tenant,
        time=datetime.now(UTC),
        data={
            "tenant_id": tenant,
            "contact_id": contact_id,
            "value_tier": tier,
            "rfm_segment": "champions",
            "computed_at": datetime.now(UTC).isoformat(),
        },
        subject=contact_id,
        key=contact_id,
        topic="crm.analytics.v1",
        partition=0,
        offset=0,
    )
    uow = UnitOfWork(app.state.sessionmaker, tenant_id=tenant, actor=None, source="/test")
    async with uow:
        await apply_segment_changed(uow, event)
