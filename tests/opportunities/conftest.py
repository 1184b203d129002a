"""Fixtures for the opportunities service: its app over a fresh crm_opportunities_test, the
contacts app in-process behind conversion, and clients per role and user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_opportunities.leads.contacts_client import ContactsClient
from crm_shared.db import create_engine
from tests.conftest import client, running_app

Api = Callable[..., httpx.AsyncClient]


@pytest.fixture(scope="session")
async def opp_app(contacts_app: FastAPI) -> AsyncIterator[FastAPI]:
    async with running_app("opportunities") as app:
        app.state.contacts = ContactsClient(
            "http://contacts", transport=httpx.ASGITransport(app=contacts_app)
        )
        yield app


@pytest.fixture(scope="session")
async def opp_owner(opp_app: FastAPI) -> AsyncIterator[AsyncEngine]:
    """The table owner's connection, for assertions on the outbox."""
    engine = create_engine(opp_app.state.settings, migration=True)
    yield engine
    await engine.dispose()


@pytest.fixture
async def api_for(opp_app: FastAPI, tenant: str) -> AsyncIterator[Api]:
    """`api_for(roles=[...], sub=...)`: a client of the opportunities app in this test's tenant."""
    clients: list[httpx.AsyncClient] = []

    def make(roles: list[str] | None = None, sub: str = "admin-1") -> httpx.AsyncClient:
        c = client(opp_app, tenant, roles or ["admin"], sub=sub)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
def admin(api_for: Api) -> httpx.AsyncClient:
    return api_for(["admin"], "admin-1")


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()
