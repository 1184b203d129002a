"""Public web-to-lead forms: validated, honeypot-protected, rate limited per form and source
address; a rejected submission gets a clear problem and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import count_rows, outbox_events
from tests.opportunities.conftest import Api, ok


def visitor(app: FastAPI, address: str) -> httpx.AsyncClient:
    """An anonymous browser at `address` (no token)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="http://opportunities",
    )


async def make_form(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "Contact us", "campaign_id": "spring", "rate_limit_per_hour": 2} | fields
    return dict(await ok(await api.post("/v1/lead-forms", json=body), 201))


async def test_submission_becomes_an_attributed_lead(
    opp_app: FastAPI, api_for: Api, admin: httpx.AsyncClient, tenant: str
) -> None:
    form = await make_form(api_for(["marketer"], "mk-1"))
    async with visitor(opp_app, "203.0.113.7") as browser:
        response = await browser.post(
            f"/v1/public/{tenant}/forms/{form['key']}/submissions",
            json={
                "email": "Visitor@Example.com",
                "first_name": "Vi",
                "company_name": "Acme",
                "utm_source": "google",
                "utm_medium": "cpc",
                "utm_campaign": "spring-sale",
                "website": "",
            },
        )
    accepted = await ok(response, 201)
    created = await ok(await admin.get(f"/v1/leads/{accepted['lead_id']}"))
    assert created["email"] == "visitor@example.com"
    assert created["source"] == "web_form" and created["campaign_id"] == "spring"
    assert created["form_id"] == form["id"]
    assert (created["utm_source"], created["utm_medium"], created["utm_campaign"]) == (
        "google",
        "cpc",
        "spring-sale",
    )


async def test_rejected_submissions_store_nothing(
    opp_app: FastAPI, admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    form = await make_form(admin)
    url = f"/v1/public/{tenant}/forms/{form['key']}/submissions"
    async with visitor(opp_app, "198.51.100.1") as bot:
        honeypot = await bot.post(url, json={"email": "bot@spam.example", "website": "http://x"})
        assert honeypot.status_code == 422
        assert honeypot.json()["errors"][0]["code"] == "honeypot"
        invalid = await bot.post(url, json={"email": "not-an-email"})
        assert invalid.status_code == 422 and invalid.json()["errors"][0]["pointer"] == "/email"
        empty = await bot.post(url, json={"message": "hello"})
        assert empty.status_code == 422
        unknown = await bot.post(url, json={"email": "a@b.example", "is_admin": True})
        assert unknown.status_code == 422
        wrong_key = await bot.post(
            f"/v1/public/{tenant}/forms/nope/submissions", json={"email": "a@b.example"}
        )
        assert wrong_key.status_code == 404
        other_tenant = await bot.post(
            f"/v1/public/t-someone-else/forms/{form['key']}/submissions",
            json={"email": "a@b.example"},
        )
        assert other_tenant.status_code == 404
    assert await count_rows(opp_owner, "leads", tenant) == 0
    assert await count_rows(opp_owner, "form_hits", tenant) == 0
    assert await outbox_events(opp_owner, tenant) == []


async def test_rate_limit_per_form_and_address(
    opp_app: FastAPI, admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    form = await make_form(admin, rate_limit_per_hour=2)
    other_form = await make_form(admin, rate_limit_per_hour=2)
    url = f"/v1/public/{tenant}/forms/{form['key']}/submissions"
    async with visitor(opp_app, "192.0.2.10") as one, visitor(opp_app, "192.0.2.11") as two:
        for i in range(2):
            await ok(await one.post(url, json={"email": f"p{i}@x.example"}), 201)
        limited = await one.post(url, json={"email": "p3@x.example"})
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3600"
        assert limited.headers["content-type"] == "application/problem+json"
        await ok(await two.post(url, json={"email": "q@x.example"}), 201)  # another address
        other_url = f"/v1/public/{tenant}/forms/{other_form['key']}/submissions"
        await ok(await one.post(other_url, json={"email": "r@x.example"}), 201)  # another form
    assert await count_rows(opp_owner, "leads", tenant) == 4
