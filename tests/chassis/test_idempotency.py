from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import count_rows


async def test_retry_with_the_same_key_creates_one_record(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    body = {"first_name": "Once", "emails": [{"email": "once@example.com"}]}
    headers = {"Idempotency-Key": "create-once-1"}
    first = await api.post("/v1/people", json=body, headers=headers)
    retry = await api.post("/v1/people", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert await count_rows(owner_engine, "people", tenant) == 1
    assert await count_rows(owner_engine, "outbox", tenant) == 1


async def test_concurrent_retries_create_one_record(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    body = {"first_name": "Racy"}
    responses = await asyncio.gather(
        *[api.post("/v1/people", json=body, headers={"Idempotency-Key": "race"}) for _ in range(5)]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_rows(owner_engine, "people", tenant) == 1


async def test_same_key_with_another_body_is_422(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-2"}
    assert (
        await api.post("/v1/people", json={"first_name": "A"}, headers=headers)
    ).status_code == 201
    other = await api.post("/v1/people", json={"first_name": "B"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "unprocessable"


async def test_failed_request_does_not_burn_the_key(api: httpx.AsyncClient) -> None:
    await api.post("/v1/people", json={"emails": [{"email": "taken@example.com"}]})
    headers = {"Idempotency-Key": "k-3"}
    body = {"emails": [{"email": "taken@example.com"}]}
    assert (await api.post("/v1/people", json=body, headers=headers)).status_code == 409
    assert (await api.post("/v1/people", json=body, headers=headers)).status_code == 409


async def test_keys_are_per_tenant(client_for: object, tenant: str) -> None:
    a = client_for(tenant + "-a")  # type: ignore[operator]
    b = client_for(tenant + "-b")  # type: ignore[operator]
    headers = {"Idempotency-Key": "shared"}
    one = await a.post("/v1/people", json={"first_name": "A"}, headers=headers)
    two = await b.post("/v1/people", json={"first_name": "A"}, headers=headers)
    assert one.json()["id"] != two.json()["id"]
