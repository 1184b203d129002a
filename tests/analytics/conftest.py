"""Analytics tests: the app over a freshly migrated crm_analytics_test, events fed to the real
handlers (or through the real broker and ConsumerRunner), each test in its own tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.db import create_engine
from crm_shared.settings import ServiceSettings
from tests.analytics.events import Feed
from tests.conftest import client, running_app


@pytest.fixture(scope="session")
async def analytics_app() -> AsyncIterator[FastAPI]:
    async with running_app("analytics") as app:
        yield app


@pytest.fixture(scope="session")
def analytics_settings(analytics_app: FastAPI) -> ServiceSettings:
    settings: ServiceSettings = analytics_app.state.settings
    return settings


@pytest.fixture(scope="session")
async def analytics_owner(analytics_settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(analytics_settings, migration=True)
    yield engine
    await engine.dispose()


@pytest.fixture
async def api(analytics_app: FastAPI, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client(analytics_app, tenant, roles=["analyst"]) as c:
        yield c


@pytest.fixture
def feed(analytics_app: FastAPI, tenant: str) -> Feed:
    return Feed(analytics_app.state.sessionmaker, analytics_app.state.settings, tenant)


MakeClient = Callable[..., Any]
