from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import create_company, create_person, outbox_events


async def test_create_normalises_and_publishes(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    person = await create_person(
        api,
        emails=[{"email": "  Ada.Lovelace@Example.COM "}],
        phones=[{"number": "+48 601-234-567"}],
        tags=["vip"],
        owner_id="rep-7",
        preferences={"preferred_channel": "email", "do_not_contact": False},
    )
    assert person["emails"] == [{"email": "ada.lovelace@example.com", "primary": True}]
    assert person["phones"][0]["number"] == "+48601234567"
    assert person["lifecycle_stage"] == "lead"
    events = await outbox_events(owner_engine, tenant)
    assert [e["type"] for e in events] == ["crm.contact.created"]
    assert events[0]["key"] == person["id"]
    assert events[0]["data"]["contact"]["primary_email"] == "ada.lovelace@example.com"


async def test_get_returns_etag_and_patch_requires_it(api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    got = await api.get(f"/v1/people/{person['id']}")
    assert got.headers["etag"] == '"1"'

    missing = await api.patch(f"/v1/people/{person['id']}", json={"job_title": "CTO"})
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"

    ok = await api.patch(
        f"/v1/people/{person['id']}", json={"job_title": "CTO"}, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2 and ok.headers["etag"] == '"2"'

    stale = await api.patch(
        f"/v1/people/{person['id']}", json={"job_title": "CEO"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert (await api.get(f"/v1/people/{person['id']}")).json()["job_title"] == "CTO"


async def test_concurrent_edits_from_the_same_version_cannot_both_win(
    api: httpx.AsyncClient,
) -> None:
    person = await create_person(api)
    url = f"/v1/people/{person['id']}"
    results = await asyncio.gather(
        *[
            api.patch(url, json={"job_title": f"title-{i}"}, headers={"If-Match": '"1"'})
            for i in range(5)
        ]
    )
    assert sorted(r.status_code for r in results) == [200, 412, 412, 412, 412]
    assert (await api.get(url)).json()["version"] == 2


async def test_patch_changes_only_sent_fields_and_reports_them(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    person = await create_person(
        api, job_title="Engineer", tags=["a"], emails=[{"email": "one@example.com"}]
    )
    response = await api.patch(
        f"/v1/people/{person['id']}",
        headers={"If-Match": '"1"'},
        json={
            "emails": [{"email": "two@example.com"}, {"email": "one@example.com", "primary": True}]
        },
    )
    body = response.json()
    assert body["job_title"] == "Engineer" and body["tags"] == ["a"]
    assert body["emails"] == [
        {"email": "two@example.com", "primary": False},
        {"email": "one@example.com", "primary": True},
    ]
    updated = (await outbox_events(owner_engine, tenant))[-1]
    assert updated["type"] == "crm.contact.updated" and updated["data"]["changed"] == ["emails"]


async def test_email_is_unique_per_tenant_not_across_tenants(
    api: httpx.AsyncClient,
    client_for: object,
    tenant: str,
) -> None:
    await create_person(api, emails=[{"email": "same@example.com"}])
    clash = await api.post(
        "/v1/people", json={"first_name": "B", "emails": [{"email": "SAME@example.com"}]}
    )
    assert clash.status_code == 409 and clash.json()["field"] == "emails"
    other = client_for(tenant + "-other")  # type: ignore[operator]
    assert (
        await other.post("/v1/people", json={"emails": [{"email": "same@example.com"}]})
    ).status_code == 201


async def test_list_filters_search_and_pages(api: httpx.AsyncClient) -> None:
    company = await create_company(api)
    ada = await create_person(
        api,
        first_name="Ada",
        tags=["vip"],
        owner_id="rep-1",
        lifecycle_stage="customer",
        phones=[{"number": "+48601234567"}],
    )
    await create_person(
        api,
        first_name="Grace",
        last_name="Hopper",
        owner_id="rep-2",
        emails=[{"email": "grace@navy.example"}],
    )
    for i in range(5):
        await create_person(api, first_name=f"Filler{i}")
    await api.post("/v1/roles", json={"person_id": ada["id"], "company_id": company["id"]})

    async def ids(**params: str) -> list[str]:
        response = await api.get("/v1/people", params=params)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids(tag="vip") == [ada["id"]]
    assert await ids(owner_id="rep-1") == [ada["id"]]
    assert await ids(lifecycle_stage="customer") == [ada["id"]]
    assert await ids(company_id=company["id"]) == [ada["id"]]
    assert len(await ids(q="navy")) == 1
    assert len(await ids(q="hopp")) == 1
    assert await ids(q="601 234") == [ada["id"]]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/people", params=params)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7


async def test_delete_is_a_tombstone(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    person = await create_person(api, emails=[{"email": "gone@example.com"}])
    url = f"/v1/people/{person['id']}"
    assert (await api.delete(url)).status_code == 428
    assert (await api.delete(url, headers={"If-Match": '"1"'})).status_code == 204
    assert (await api.get(url)).status_code == 404
    assert (await outbox_events(owner_engine, tenant))[-1]["type"] == "crm.contact.deleted"
    # the address is free again
    await create_person(api, emails=[{"email": "gone@example.com"}])


async def test_unknown_person_is_a_problem_document(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/people/01a20000-0000-7000-8000-000000000000")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found" and body["type"].endswith("/not-found")


async def test_concurrent_creates_with_one_email_make_one_person(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    """The pre-check cannot see uncommitted rows; the unique index decides, and the losers
    get a 409 problem, not a 500."""
    body = {"first_name": "Race", "emails": [{"email": "race@example.com"}]}
    responses = await asyncio.gather(*[api.post("/v1/people", json=body) for _ in range(6)])
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409, 409]
    assert all(r.json()["code"] == "conflict" for r in responses if r.status_code == 409)
    assert [e["type"] for e in await outbox_events(owner_engine, tenant)] == ["crm.contact.created"]
