"""Lead conversion against the real contacts app: person, company and role created once (even
across retries), a deal opened, and never a half-done conversion when contacts is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_opportunities.leads.contacts_client import ContactsClient
from tests.conftest import Client
from tests.helpers import count_rows, outbox_events
from tests.opportunities.conftest import Api, ok
from tests.opportunities.helpers import make_pipeline


class DropsCompanies(httpx.AsyncBaseTransport):
    """Contacts going down mid-conversion: people get through, then the connection fails."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/companies"):
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def contacts_switch(opp_app: FastAPI, contacts_app: FastAPI) -> AsyncIterator[None]:
    yield
    opp_app.state.contacts = ContactsClient(
        "http://contacts", transport=httpx.ASGITransport(app=contacts_app)
    )


async def qualified_lead(api: httpx.AsyncClient) -> dict[str, Any]:
    lead = await ok(
        await api.post(
            "/v1/leads",
            json={
                "first_name": "Maria",
                "last_name": "Nowak",
                "email": "maria@nowak.example",
                "phone": "+48601234567",
                "company_name": "Nowak Sp. z o.o.",
                "country": "PL",
                "industry": "retail",
                "company_size": 40,
                "campaign_id": "camp-9",
                "owner_id": "rep-1",
            },
        ),
        201,
    )
    return dict(lead)


async def test_conversion_creates_person_company_and_deal_once(
    api_for: Api,
    client_for: Client,
    owner_engine: AsyncEngine,
    opp_owner: AsyncEngine,
    tenant: str,
) -> None:
    admin = api_for(["admin"], "admin-1")
    pipeline = await make_pipeline(admin)
    lead = await qualified_lead(admin)
    rep = api_for(["sales_rep"], "rep-1")
    body = {"pipeline_id": pipeline["id"], "amount": "5000.00", "currency": "PLN"}
    converted = await ok(await rep.post(f"/v1/leads/{lead['id']}/convert", json=body))
    assert converted["converted_at"] and converted["status"] == "qualified"
    contact_id, company_id = converted["contact_id"], converted["company_id"]

    contacts = client_for(tenant)
    person = await ok(await contacts.get(f"/v1/people/{contact_id}"))
    assert person["emails"][0]["email"] == "maria@nowak.example"
    assert person["external_id"] == f"lead:{lead['id']}" and person["owner_id"] == "rep-1"
    company = await ok(await contacts.get(f"/v1/companies/{company_id}"))
    assert company["name"] == "Nowak Sp. z o.o." and company["employee_count"] == 40
    roles = await ok(await contacts.get(f"/v1/people/{contact_id}/roles"))
    assert [r["company_id"] for r in roles] == [company_id]

    deal = await ok(await rep.get(f"/v1/opportunities/{converted['opportunity_id']}"))
    assert deal["person_id"] == contact_id and deal["company_id"] == company_id
    assert deal["owner_id"] == "rep-1" and deal["source_campaign_id"] == "camp-9"
    assert deal["lead_id"] == lead["id"] and deal["amount"] == "5000.00"

    again = await ok(await rep.post(f"/v1/leads/{lead['id']}/convert", json=body))
    assert again["opportunity_id"] == converted["opportunity_id"]
    assert await count_rows(owner_engine, "people", tenant) == 1
    assert await count_rows(owner_engine, "companies", tenant) == 1
    assert await count_rows(opp_owner, "opportunities", tenant) == 1
    events = await outbox_events(opp_owner, tenant)
    converted_events = [e for e in events if e["type"] == "crm.lead.converted"]
    assert len(converted_events) == 1 and converted_events[0]["key"] == lead["id"]
    assert converted_events[0]["data"]["contact_id"] == contact_id
    created = [e for e in events if e["type"] == "crm.opportunity.created"]
    assert len(created) == 1 and created[0]["key"] == contact_id


@pytest.mark.usefixtures("contacts_switch")
async def test_contacts_down_then_back_is_never_half_done(
    opp_app: FastAPI,
    contacts_app: FastAPI,
    api_for: Api,
    owner_engine: AsyncEngine,
    opp_owner: AsyncEngine,
    tenant: str,
) -> None:
    admin = api_for(["admin"], "admin-1")
    pipeline = await make_pipeline(admin)
    lead = await qualified_lead(admin)
    url = f"/v1/leads/{lead['id']}/convert"
    body = {"pipeline_id": pipeline["id"], "currency": "PLN"}
    events_before = len(await outbox_events(opp_owner, tenant))

    # Stopped: nothing listens on the configured address.
    opp_app.state.contacts = ContactsClient("http://127.0.0.1:9", timeout_s=2)
    down = await admin.post(url, json=body)
    assert down.status_code == 503 and down.headers["retry-after"] == "5"
    assert down.headers["content-type"] == "application/problem+json"

    # Failing midway: the person was created, then the connection dropped.
    opp_app.state.contacts = ContactsClient(
        "http://contacts", transport=DropsCompanies(contacts_app)
    )
    midway = await admin.post(url, json=body)
    assert midway.status_code == 503
    assert await count_rows(owner_engine, "people", tenant) == 1
    unconverted = await ok(await admin.get(f"/v1/leads/{lead['id']}"))
    assert unconverted["converted_at"] is None and unconverted["opportunity_id"] is None
    assert await count_rows(opp_owner, "opportunities", tenant) == 0
    assert len(await outbox_events(opp_owner, tenant)) == events_before

    # Restarted: the retry completes with the person the first attempt made.
    opp_app.state.contacts = ContactsClient(
        "http://contacts", transport=httpx.ASGITransport(app=contacts_app)
    )
    done = await ok(await admin.post(url, json=body))
    assert done["opportunity_id"] and done["company_id"]
    assert await count_rows(owner_engine, "people", tenant) == 1
    assert await count_rows(owner_engine, "companies", tenant) == 1
    assert await count_rows(opp_owner, "opportunities", tenant) == 1


async def test_conversion_links_existing_and_rejects_bad_input_first(
    api_for: Api, client_for: Client, owner_engine: AsyncEngine, tenant: str
) -> None:
    admin = api_for(["admin"], "admin-1")
    pipeline = await make_pipeline(admin)
    lead = await qualified_lead(admin)
    url = f"/v1/leads/{lead['id']}/convert"
    missing_pipeline = await admin.post(
        url, json={"pipeline_id": "0190a000-0000-7000-8000-0000000000ff", "currency": "PLN"}
    )
    assert missing_pipeline.status_code == 404
    assert await count_rows(owner_engine, "people", tenant) == 0  # nothing made in contacts

    contacts = client_for(tenant)
    existing = await ok(await contacts.post("/v1/people", json={"first_name": "Maria"}), 201)
    stranger = await admin.post(
        url,
        json={
            "pipeline_id": pipeline["id"],
            "currency": "PLN",
            "contact_id": "0190a000-0000-7000-8000-0000000000aa",
        },
    )
    assert stranger.status_code == 422
    linked = await ok(
        await admin.post(
            url,
            json={"pipeline_id": pipeline["id"], "currency": "PLN", "contact_id": existing["id"]},
        )
    )
    assert linked["contact_id"] == existing["id"]
    assert await count_rows(owner_engine, "people", tenant) == 1
