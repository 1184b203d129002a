"""Fixtures for the campaigns service: its app over crm_campaigns_test, clients per tenant,
the owner's engine (for outbox assertions) and a way to feed the projection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.db import create_engine
from tests.campaigns.helpers import Feeder
from tests.conftest import client, running_app


@pytest.fixture(scope="session")
async def campaigns_app() -> AsyncIterator[FastAPI]:
    async with running_app("campaigns") as app:
        yield app


@pytest.fixture(scope="session")
async def campaigns_owner(campaigns_app: FastAPI) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(campaigns_app.state.settings, migration=True)
    yield engine
    await engine.dispose()


@pytest.fixture
async def capi(campaigns_app: FastAPI, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """A marketer of `tenant` on the campaigns API."""
    async with client(campaigns_app, tenant, roles=["marketer"]) as c:
        yield c


@pytest.fixture
def feed(campaigns_app: FastAPI, tenant: str) -> Feeder:
    return Feeder(campaigns_app, tenant)


@pytest.fixture(scope="session")
async def opportunities_app() -> AsyncIterator[FastAPI]:
    async with running_app("opportunities") as app:
        yield app
