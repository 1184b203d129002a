"""Test fixtures over real PostgreSQL (`make infra-up`) and a real Kafka broker of the tests'
own on 127.0.0.1:9192, which the session starts if needed: tests stop it and fill its topics
with junk, so they never touch `make dev`'s broker on 9092.

Each service test database (`crm_<svc>_test`) is rebuilt from its migrations once per run.
Every test works in a tenant of its own, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.auth import mint_token
from crm_shared.db import create_engine
from crm_shared.events.catalog import TOPICS, dlq_topic
from crm_shared.kafka import ensure_topics
from crm_shared.migrations import alembic_config
from crm_shared.service import ServiceSpec, get_service
from crm_shared.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[1]
TEST_PG = "postgresql+asyncpg://{role}:{role}@127.0.0.1:5432/crm_{service}_test"
# Its state lives outside the checkout, so every clone on the machine finds the same broker
# running (rather than refusing a port held by another clone's).
TEST_KAFKA_ENV = {
    "KAFKA_PORT": "9192",
    "KAFKA_INSTANCE": "kafka-test",
    "CRM_STATE_DIR": str(Path.home() / ".local/state/crm"),
}
# Point at a broker of your own with TEST_KAFKA_BOOTSTRAP_SERVERS (then none is started).
TEST_KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9192")


def broker_for_tests(command: str) -> None:
    """`up`, `down` or `restart` the tests' broker through the same script as `make infra-up`."""
    subprocess.run(
        ["bash", str(REPO / "scripts/infra/kafka.sh"), command],
        check=True,
        timeout=180,
        env=os.environ | TEST_KAFKA_ENV,
    )


@pytest.fixture(scope="session", autouse=True)
def kafka_for_tests() -> None:
    """The tests' broker is up and has every catalog topic and DLQ."""
    if "TEST_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        broker_for_tests("up")
    wanted = [name for topic in TOPICS for name in (topic, dlq_topic(topic))]
    asyncio.run(ensure_topics(settings_for_tests("contacts"), wanted, partitions=6))


def settings_for_tests(service: str, **overrides: Any) -> ServiceSettings:
    defaults: dict[str, Any] = {
        "database_url": os.environ.get(
            f"TEST_{service.upper()}_DATABASE_URL", TEST_PG.format(role="crm_app", service=service)
        ),
        "migration_database_url": os.environ.get(
            f"TEST_{service.upper()}_MIGRATION_DATABASE_URL",
            TEST_PG.format(role="crm_owner", service=service),
        ),
        "kafka_bootstrap_servers": TEST_KAFKA,
        "relay_poll_interval_s": 0.2,
        "consumer_retry_backoff_s": 0.05,
    }
    return get_service(service).settings(**(defaults | overrides))


async def rebuild_database(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Drop everything and migrate from scratch: the migrations themselves are under test."""
    dsn = settings.migration_database_url.replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
            f'GRANT USAGE ON SCHEMA public TO "{settings.app_role}"'
        )
    finally:
        await conn.close()
    from alembic import command

    config = alembic_config(spec.migrations, settings.migration_database_url, settings.app_role)
    await asyncio.to_thread(command.upgrade, config, "head")


_REBUILT: set[str] = set()


@contextlib.asynccontextmanager
async def running_app(service: str, **overrides: Any) -> AsyncIterator[FastAPI]:
    """A service's app over a freshly migrated test database, lifespan started (no server:
    clients talk to it in-process through httpx's ASGI transport)."""
    settings = settings_for_tests(service, **overrides)
    if service not in _REBUILT:  # once per test session: other fixtures may share the database
        await rebuild_database(get_service(service), settings)
        _REBUILT.add(service)
    app = get_service(service).create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client(
    app: FastAPI, tenant: str, roles: list[str] | None = None, sub: str = "user-1"
) -> httpx.AsyncClient:
    """An in-process HTTP client with a bearer token for `tenant` (admin unless told)."""
    token = mint_token(app.state.settings, tenant=tenant, roles=roles or ["admin"], sub=sub)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{app.state.settings.service}",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture(scope="session")
async def contacts_app() -> AsyncIterator[FastAPI]:
    async with running_app("contacts") as app:
        yield app


@pytest.fixture(scope="session")
def contacts_db(contacts_app: FastAPI) -> ServiceSettings:
    settings: ServiceSettings = contacts_app.state.settings
    return settings


@pytest.fixture(scope="session")
async def owner_engine(contacts_db: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    """The table owner's connection, for assertions that must see past row-level security."""
    engine = create_engine(contacts_db, migration=True)
    yield engine
    await engine.dispose()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_for(contacts_app: FastAPI) -> AsyncIterator[Client]:
    """`client_for(tenant, roles=[...])`: an HTTP client with a bearer token for that tenant."""
    clients: list[httpx.AsyncClient] = []
    settings: ServiceSettings = contacts_app.state.settings

    def make(tenant: str, roles: list[str] | None = None, sub: str = "user-1") -> httpx.AsyncClient:
        token = mint_token(settings, tenant=tenant, roles=roles or ["admin"], sub=sub)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=contacts_app),
            base_url="http://contacts",
            headers={"Authorization": f"Bearer {token}"},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def api(client_for: Client, tenant: str) -> httpx.AsyncClient:
    return client_for(tenant)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)
