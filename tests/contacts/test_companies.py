from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import create_company, create_person, outbox_events


async def test_hierarchy_ancestors_and_descendants(api: httpx.AsyncClient) -> None:
    group = await create_company(api, name="Group")
    poland = await create_company(api, name="Group PL", parent_id=group["id"])
    germany = await create_company(api, name="Group DE", parent_id=group["id"])
    warsaw = await create_company(api, name="Group PL Warsaw", parent_id=poland["id"])

    ancestors = (await api.get(f"/v1/companies/{warsaw['id']}/ancestors")).json()
    assert [(a["name"], a["depth"]) for a in ancestors] == [("Group PL", 1), ("Group", 2)]
    descendants = (await api.get(f"/v1/companies/{group['id']}/descendants")).json()
    assert [(d["name"], d["depth"]) for d in descendants] == [
        ("Group DE", 1),
        ("Group PL", 1),
        ("Group PL Warsaw", 2),
    ]
    assert germany["parent_id"] == group["id"]


async def test_reparenting_moves_a_subtree(api: httpx.AsyncClient) -> None:
    a = await create_company(api, name="A")
    b = await create_company(api, name="B")
    child = await create_company(api, name="Child", parent_id=a["id"])
    moved = await api.patch(
        f"/v1/companies/{child['id']}", json={"parent_id": b["id"]}, headers={"If-Match": '"1"'}
    )
    assert moved.status_code == 200
    assert (await api.get(f"/v1/companies/{a['id']}/descendants")).json() == []


async def test_concurrent_reparenting_cannot_form_a_cycle(api: httpx.AsyncClient) -> None:
    a = await create_company(api, name="A")
    b = await create_company(api, name="B")
    results = await asyncio.gather(
        api.patch(
            f"/v1/companies/{a['id']}", json={"parent_id": b["id"]}, headers={"If-Match": '"1"'}
        ),
        api.patch(
            f"/v1/companies/{b['id']}", json={"parent_id": a["id"]}, headers={"If-Match": '"1"'}
        ),
    )
    assert sorted(r.status_code for r in results) == [200, 422]


async def test_unknown_parent_is_not_found(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/companies",
        json={"name": "Orphan", "parent_id": "01a20000-0000-7000-8000-000000000000"},
    )
    assert response.status_code == 404


async def test_roles_link_people_and_companies(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    person = await create_person(api)
    acme = await create_company(api, name="Acme")
    globex = await create_company(api, name="Globex")
    first = (
        await api.post(
            "/v1/roles",
            json={
                "person_id": person["id"],
                "company_id": acme["id"],
                "title": "CTO",
                "is_primary": True,
            },
        )
    ).json()
    second = await api.post(
        "/v1/roles",
        json={
            "person_id": person["id"],
            "company_id": globex["id"],
            "title": "Advisor",
            "is_primary": True,
            "start_date": "2025-01-01",
        },
    )
    assert second.status_code == 201
    roles = (await api.get(f"/v1/people/{person['id']}/roles")).json()
    assert [(r["title"], r["is_primary"]) for r in roles] == [("Advisor", True), ("CTO", False)]
    assert [
        r["person_id"] for r in (await api.get(f"/v1/companies/{acme['id']}/roles")).json()
    ] == [person["id"]]

    ended = await api.patch(f"/v1/roles/{first['id']}", json={"end_date": "2026-01-31"})
    assert ended.json()["end_date"] == "2026-01-31"
    bad = await api.post(
        "/v1/roles",
        json={
            "person_id": person["id"],
            "company_id": acme["id"],
            "start_date": "2026-02-01",
            "end_date": "2026-01-01",
        },
    )
    assert bad.status_code == 422
    assert (await api.delete(f"/v1/roles/{first['id']}")).status_code == 204
    types = [e["type"] for e in await outbox_events(owner_engine, tenant)]
    assert types.count("crm.contact.role_added") == 2
    assert "crm.contact.role_updated" in types and "crm.contact.role_removed" in types
