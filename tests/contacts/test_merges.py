"""Duplicate candidates, and merges that can be undone."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import create_company, create_person, outbox_events

VOLATILE = ("version", "updated_at")


def stable(person: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if k not in VOLATILE}


async def consent(api: httpx.AsyncClient, pid: str, channel: str, status: str, at: str) -> None:
    response = await api.post(
        f"/v1/people/{pid}/consents",
        json={
            "channel": channel,
            "purpose": "marketing",
            "status": status,
            "source": "web-form",
            "captured_at": at,
        },
    )
    assert response.status_code == 201, response.text


async def overview(api: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    """Everything a user sees about a person: record, roles, interactions, current consents."""
    person = (await api.get(f"/v1/people/{pid}")).json()
    roles = (await api.get(f"/v1/people/{pid}/roles")).json()
    interactions = (await api.get(f"/v1/people/{pid}/interactions")).json()
    consents = (await api.get(f"/v1/people/{pid}/consents")).json()
    return {
        "person": stable(person),
        "roles": sorted(r["id"] for r in roles),
        "interactions": sorted(i["id"] for i in interactions["items"])
        if isinstance(interactions, dict)
        else sorted(i["id"] for i in interactions),
        "consents": consents["current"],
    }


async def test_duplicate_candidates_with_score_and_reason(api: httpx.AsyncClient) -> None:
    acme = await create_company(api)
    ada = await create_person(
        api,
        first_name="Ada",
        last_name="Lovelace",
        emails=[{"email": "ada.lovelace@gmail.com"}],
        phones=[{"number": "+48601234567"}],
    )
    by_mailbox = await create_person(
        api, first_name="A.", last_name="King", emails=[{"email": "adalovelace+crm@gmail.com"}]
    )
    by_phone = await create_person(
        api, first_name="Augusta", phones=[{"number": "+48 601 234 567"}]
    )
    by_name = await create_person(api, first_name="Ada", last_name="Lovelase")
    stranger = await create_person(api, first_name="Grace", last_name="Hopper")
    for pid in (ada["id"], by_name["id"], stranger["id"]):
        response = await api.post("/v1/roles", json={"person_id": pid, "company_id": acme["id"]})
        assert response.status_code == 201

    response = await api.get(f"/v1/people/{ada['id']}/duplicates")
    assert response.status_code == 200
    found = {c["person_id"]: c for c in response.json()}
    assert set(found) == {by_mailbox["id"], by_phone["id"], by_name["id"]}
    assert found[by_mailbox["id"]]["reasons"] == ["same_email"]
    assert found[by_phone["id"]]["reasons"] == ["same_phone"]
    assert found[by_name["id"]]["reasons"] == ["similar_name_same_company"]
    assert found[by_mailbox["id"]]["score"] > found[by_name["id"]]["score"] > 0

    pairs = (await api.get("/v1/duplicates")).json()
    assert len(pairs) == 3
    assert all(stranger["id"] not in p["person_ids"] for p in pairs)
    assert pairs == sorted(pairs, key=lambda p: -p["score"])


async def test_merge_then_undo_gives_back_the_original_records(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    acme = await create_company(api)
    survivor = await create_person(
        api,
        first_name="Ada",
        last_name="Lovelace",
        emails=[{"email": "ada@example.com"}],
        tags=["vip"],
        attributes={"tier": "gold"},
    )
    dup = await create_person(
        api,
        first_name="Ada",
        last_name="King",
        job_title="Countess",
        emails=[{"email": "ada@king.example"}],
        phones=[{"number": "+48601234567"}],
        external_id="erp-7",
        tags=["poet"],
        attributes={"tier": "silver", "shoe": 38},
    )
    role = await api.post("/v1/roles", json={"person_id": dup["id"], "company_id": acme["id"]})
    assert role.status_code == 201
    note = await api.post(f"/v1/people/{dup['id']}/notes", json={"body": "met at the fair"})
    assert note.status_code == 201, note.text
    await consent(api, survivor["id"], "email", "granted", "2026-01-01T00:00:00Z")
    await consent(api, dup["id"], "email", "withdrawn", "2026-02-01T00:00:00Z")
    await consent(api, dup["id"], "sms", "granted", "2026-02-01T00:00:00Z")
    before = {pid: await overview(api, pid) for pid in (survivor["id"], dup["id"])}

    response = await api.post(
        "/v1/merges",
        json={
            "survivor_id": survivor["id"],
            "merged_ids": [dup["id"]],
            "fields": {"last_name": dup["id"], "external_id": dup["id"]},
        },
    )
    assert response.status_code == 201, response.text
    merge = response.json()

    assert (await api.get(f"/v1/people/{dup['id']}")).status_code == 404
    merged = await overview(api, survivor["id"])
    person = merged["person"]
    assert (person["first_name"], person["last_name"]) == ("Ada", "King")
    assert person["job_title"] is None  # the survivor's value wins unless chosen
    assert person["external_id"] == "erp-7"
    assert [e["email"] for e in person["emails"]] == ["ada@example.com", "ada@king.example"]
    assert person["emails"][0]["primary"] and not person["emails"][1]["primary"]
    assert [p["number"] for p in person["phones"]] == ["+48601234567"]
    assert person["tags"] == ["vip", "poet"]
    assert person["attributes"] == {"tier": "gold", "shoe": 38}
    assert merged["roles"] == [role.json()["id"]]
    assert merged["interactions"] == [note.json()["id"]]
    current = {c["channel"]: c["status"] for c in merged["consents"]}
    assert current == {"email": "withdrawn", "sms": "granted"}  # latest capture wins

    undone = await api.post(f"/v1/merges/{merge['id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    after = {pid: await overview(api, pid) for pid in (survivor["id"], dup["id"])}
    assert after == before

    again = await api.post(f"/v1/merges/{merge['id']}/undo")
    assert again.status_code == 409

    events = await outbox_events(owner_engine, tenant)
    merged_event = next(e for e in events if e["type"] == "crm.contact.merged")
    assert merged_event["key"] == survivor["id"]
    assert merged_event["data"]["merged_ids"] == [dup["id"]]
    unmerged = next(e for e in events if e["type"] == "crm.contact.unmerged")
    assert unmerged["data"]["restored_ids"] == [dup["id"]]
    assert unmerged["data"]["merge_id"] == merge["id"]
    # Others saw the survivor's consent as the copies made it: they learn it is back as it was.
    corrected = {
        e["data"]["channel"]: (e["data"]["status"], e["data"]["captured_at"])
        for e in events
        if e["type"] == "crm.consent.corrected" and e["key"] == survivor["id"]
    }
    assert corrected == {"email": ("granted", "2026-01-01T00:00:00Z"), "sms": ("none", None)}


async def test_merge_rejects_bad_requests_and_writes_nothing(api: httpx.AsyncClient) -> None:
    a = await create_person(api)
    b = await create_person(api, first_name="Bob")
    self_merge = await api.post(
        "/v1/merges", json={"survivor_id": a["id"], "merged_ids": [a["id"]]}
    )
    assert self_merge.status_code == 422
    stranger = await api.post(
        "/v1/merges",
        json={
            "survivor_id": a["id"],
            "merged_ids": [b["id"]],
            "fields": {"first_name": a["id"][:-4] + "0000"},
        },
    )
    assert stranger.status_code == 422
    missing = await api.post(
        "/v1/merges",
        json={"survivor_id": a["id"], "merged_ids": ["00000000-0000-7000-8000-000000000000"]},
    )
    assert missing.status_code == 404
    assert (await api.get(f"/v1/people/{b['id']}")).status_code == 200
    assert (
        await api.post("/v1/merges/00000000-0000-7000-8000-000000000000/undo")
    ).status_code == 404
