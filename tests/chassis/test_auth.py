"""Expired, forged, `alg: none`, tenant-less and wrong-tenant tokens never get in."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import jwt
import pytest
from fastapi import FastAPI

from crm_shared.auth import mint_token


def _client(app: FastAPI, token: str | None, **headers: str) -> httpx.AsyncClient:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
    )


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "u1", "tid": "acme", "roles": ["admin"], "iat": now, "exp": now + 60} | overrides


@pytest.fixture
def secret(contacts_app: FastAPI) -> str:
    return str(contacts_app.state.settings.jwt_secret)


def bad_tokens(secret: str) -> dict[str, str | None]:
    return {
        "missing": None,
        "garbage": "not.a.token",
        "expired": jwt.encode(_claims(exp=int(time.time()) - 10), secret, algorithm="HS256"),
        "forged": jwt.encode(_claims(), "another-secret-of-sufficient-length!", algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
        "no tenant": jwt.encode(
            {k: v for k, v in _claims().items() if k != "tid"}, secret, algorithm="HS256"
        ),
        "bad tenant": jwt.encode(_claims(tid="../etc"), secret, algorithm="HS256"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "expired", "forged", "alg none", "no tenant", "bad tenant"]
)
async def test_invalid_tokens_get_401(contacts_app: FastAPI, secret: str, case: str) -> None:
    async with _client(contacts_app, bad_tokens(secret)[case]) as client:
        response = await client.get("/v1/people")
        created = await client.post("/v1/people", json={"first_name": "X"})
    assert response.status_code == 401 and created.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_token_for_another_tenant_is_403(contacts_app: FastAPI, secret: str) -> None:
    token = mint_token(secret, tenant="tenant-b", roles=["admin"])
    async with _client(contacts_app, token, **{"X-Tenant-Id": "tenant-a"}) as client:
        assert (await client.get("/v1/people")).status_code == 403


async def test_missing_role_is_403(contacts_app: FastAPI, secret: str) -> None:
    analyst = mint_token(secret, tenant="acme-roles", roles=["analyst"])
    async with _client(contacts_app, analyst) as client:
        assert (await client.get("/v1/people")).status_code == 200
        denied = await client.post("/v1/people", json={"first_name": "X"})
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    no_roles = mint_token(secret, tenant="acme-roles", roles=["astronaut"])
    async with _client(contacts_app, no_roles) as client:
        assert (await client.get("/v1/people")).status_code == 403


async def test_a_token_stops_working_when_it_expires_even_after_use(
    contacts_app: FastAPI, secret: str
) -> None:
    """Verified tokens are remembered between requests, but never past their expiry."""
    token = mint_token(secret, tenant="acme-expiry", roles=["admin"], ttl_s=2)
    async with _client(contacts_app, token) as client:
        assert (await client.get("/v1/people")).status_code == 200
        assert (await client.get("/v1/people")).status_code == 200
        await asyncio.sleep(
            max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time())
            + 0.1
        )
        expired = await client.get("/v1/people")
    assert expired.status_code == 401
