from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Client
from tests.helpers import create_company, create_person, outbox_events


async def test_interactions_and_notes_reach_the_timeline_event(
    api: httpx.AsyncClient,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    person = await create_person(api)
    company = await create_company(api)
    call = await api.post(
        f"/v1/people/{person['id']}/interactions",
        json={
            "channel": "phone",
            "direction": "inbound",
            "kind": "call",
            "occurred_at": "2026-11-20T09:30:00Z",
            "summary": "Asked for a quote",
            "company_id": company["id"],
        },
    )
    assert call.status_code == 201, call.text
    note = await api.post(f"/v1/people/{person['id']}/notes", json={"body": "Prefers mornings"})
    assert note.json()["kind"] == "note" and note.json()["direction"] == "internal"

    listed = (await api.get(f"/v1/people/{person['id']}/interactions", params={"limit": 1})).json()
    assert listed["items"][0]["kind"] == "note" and listed["next_cursor"]
    rest = (
        await api.get(
            f"/v1/people/{person['id']}/interactions", params={"cursor": listed["next_cursor"]}
        )
    ).json()
    assert [i["kind"] for i in rest["items"]] == ["call"] and rest["next_cursor"] is None

    logged = [
        e
        for e in await outbox_events(owner_engine, tenant)
        if e["type"] == "crm.interaction.logged"
    ]
    assert [e["data"]["channel"] for e in logged] == ["phone", "other"]
    assert logged[0]["key"] == person["id"]
    assert logged[0]["data"]["source"] == {
        "service": "contacts",
        "entity": "interaction",
        "id": call.json()["id"],
    }


async def test_export_then_erase(
    api: httpx.AsyncClient, client_for: Client, owner_engine: AsyncEngine, tenant: str
) -> None:
    person = await create_person(
        api,
        emails=[{"email": "erase.me@example.com"}],
        phones=[{"number": "+48601234567"}],
        job_title="CFO",
        addresses=[{"city": "Kraków", "country": "PL"}],
    )
    pid = person["id"]
    await api.post(
        f"/v1/people/{pid}/consents",
        json={"channel": "email", "purpose": "marketing", "status": "withdrawn", "source": "web"},
    )
    await api.post(f"/v1/people/{pid}/notes", json={"body": "Lives next to the bakery"})

    rep = client_for(tenant, roles=["sales_rep"])
    assert (await rep.get(f"/v1/people/{pid}/export")).status_code == 403
    exported = (await api.get(f"/v1/people/{pid}/export")).json()
    assert exported["person"]["emails"][0]["email"] == "erase.me@example.com"
    assert exported["interactions"][0]["summary"] == "Lives next to the bakery"
    assert exported["consents"]["ledger"][0]["status"] == "withdrawn"

    erased = await api.post(f"/v1/people/{pid}/erasure", json={"reason": "customer request"})
    assert erased.status_code == 201, erased.text
    after = (await api.get(f"/v1/people/{pid}")).json()
    assert after["first_name"] is None and after["emails"] == [] and after["phones"] == []
    assert after["addresses"] == [] and after["job_title"] is None and after["erased_at"]
    assert after["preferences"]["do_not_contact"] is True
    kept = (await api.get(f"/v1/people/{pid}/consents")).json()
    assert [e["status"] for e in kept["ledger"]] == ["withdrawn"]
    notes = (await api.get(f"/v1/people/{pid}/interactions")).json()["items"]
    assert notes[0]["summary"] is None
    assert (await api.post(f"/v1/people/{pid}/erasure")).status_code == 409
    assert (await api.get("/v1/people", params={"q": "erase.me"})).json()["items"] == []
    assert (await outbox_events(owner_engine, tenant))[-1]["type"] == "crm.contact.erased"
    async with owner_engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        assert await conn.scalar(text("SELECT count(*) FROM erasures")) == 1
        pii = await conn.scalar(
            text("SELECT count(*) FROM people WHERE first_name IS NOT NULL AND id = :id"),
            {"id": pid},
        )
        assert pii == 0


async def test_ownership_transfer_moves_everything_with_an_event_each(
    api: httpx.AsyncClient,
    client_for: Client,
    owner_engine: AsyncEngine,
    tenant: str,
) -> None:
    for i in range(3):
        await create_person(api, first_name=f"P{i}", owner_id="leaver")
    await create_person(api, first_name="Other", owner_id="stayer")
    await create_company(api, owner_id="leaver")

    rep = client_for(tenant, roles=["sales_rep"])
    body = {"from_owner_id": "leaver", "to_owner_id": "successor"}
    assert (await rep.post("/v1/ownership-transfers", json=body)).status_code == 403
    manager = client_for(tenant, roles=["sales_manager"])
    result = await manager.post("/v1/ownership-transfers", json=body)
    assert result.status_code == 201 and result.json() | {} == {
        "from_owner_id": "leaver",
        "to_owner_id": "successor",
        "people": 3,
        "companies": 1,
    }
    owned = (await api.get("/v1/people", params={"owner_id": "successor"})).json()["items"]
    assert len(owned) == 3 and all(p["version"] == 2 for p in owned)
    assert (await api.get("/v1/people", params={"owner_id": "leaver"})).json()["items"] == []
    types = [e["type"] for e in await outbox_events(owner_engine, tenant)]
    assert types.count("crm.contact.owner_changed") == 3
    assert types.count("crm.company.owner_changed") == 1
