"""Health, readiness, metrics, and a clean 503 when the database is unreachable."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from crm_shared.auth import mint_token
from crm_shared.service import get_service
from tests.conftest import settings_for_tests


async def test_health_ready_and_metrics(contacts_app: FastAPI, api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    await api.get("/v1/people")
    metrics = (await api.get("/metrics")).text
    assert 'crm_http_request_duration_seconds_bucket{le="0.005",method="GET",' in metrics
    assert 'route="/v1/people"' in metrics
    assert 'crm_outbox_backlog{service="contacts"}' in metrics


async def test_database_down_is_503_problem_and_not_ready() -> None:
    settings = settings_for_tests(
        "contacts",
        database_url="postgresql+asyncpg://crm_app:crm_app@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
    )
    app = get_service("contacts").create_app(settings)
    token = mint_token(settings, tenant="acme", roles=["admin"])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://t",
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
    ):
        response = await client.post("/v1/people", json={"first_name": "X"})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "service_unavailable"
        assert "Traceback" not in response.text
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "unreachable", "broker": "unreachable"}
