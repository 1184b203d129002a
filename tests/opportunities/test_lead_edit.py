"""Editing a lead: PATCH with If-Match like every edited resource, the duplicate flag follows a
changed email, bad edits change nothing, and others' leads stay invisible."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import outbox_events
from tests.opportunities.conftest import Api, ok


async def new_lead(api: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    response = await api.post("/v1/leads", json={"first_name": "Ewa"} | fields)
    assert response.status_code == 201, response.text
    return response


async def test_edit_with_the_etag_changes_details_and_tells_of_it(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    created = await new_lead(admin, email="ewa@acme.example", company_name="Acme")
    assert created.headers["etag"] == '"1"'
    lead = created.json()
    edited = await admin.patch(
        f"/v1/leads/{lead['id']}",
        json={"last_name": "Kowal", "company_name": "Acme Sp. z o.o.", "utm_campaign": "spring"},
        headers={"If-Match": created.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.headers["etag"] == '"2"'
    read = await admin.get(f"/v1/leads/{lead['id']}")
    assert read.headers["etag"] == '"2"'
    body = read.json()
    assert (body["last_name"], body["company_name"], body["utm_campaign"]) == (
        "Kowal",
        "Acme Sp. z o.o.",
        "spring",
    )
    assert body["email"] == "ewa@acme.example"  # absent fields are kept
    updated = [e for e in await outbox_events(opp_owner, tenant) if e["type"] == "crm.lead.updated"]
    assert len(updated) == 1
    assert updated[0]["data"]["changed"] == ["company_name", "last_name", "utm_campaign"]
    assert updated[0]["data"]["attribution"]["utm_campaign"] == "spring"


async def test_stale_or_missing_if_match_is_refused(admin: httpx.AsyncClient) -> None:
    lead = (await new_lead(admin)).json()
    url = f"/v1/leads/{lead['id']}"
    first = await admin.patch(url, json={"last_name": "A"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    stale = await admin.patch(url, json={"last_name": "B"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["etag"] == '"2"'
    missing = await admin.patch(url, json={"last_name": "C"})
    assert missing.status_code == 428
    assert (await ok(await admin.get(url)))["last_name"] == "A"


async def test_bad_edits_are_problems_and_change_nothing(
    admin: httpx.AsyncClient, opp_owner: AsyncEngine, tenant: str
) -> None:
    lead = (await new_lead(admin)).json()
    url, etag = f"/v1/leads/{lead['id']}", {"If-Match": '"1"'}
    unreachable = await admin.patch(url, json={"first_name": None}, headers=etag)
    assert unreachable.status_code == 422
    assert unreachable.headers["content-type"].startswith("application/problem+json")
    assert "email, a phone or a name" in unreachable.text
    for body in (
        {"status": "qualified"},  # has its own endpoint
        {"owner_id": "someone"},  # so has assignment
        {"email": "not an email"},
        {"country": "Poland"},
        {"source": None},
    ):
        response = await admin.patch(url, json=body, headers=etag)
        assert response.status_code == 422, (body, response.text)
    after = await admin.get(url)
    assert after.headers["etag"] == '"1"' and after.json()["first_name"] == "Ewa"
    assert [e["type"] for e in await outbox_events(opp_owner, tenant)] == ["crm.lead.created"]


async def test_a_new_email_is_checked_for_duplicates(admin: httpx.AsyncClient) -> None:
    first = (await new_lead(admin, email="jan@x.example")).json()
    second = (await new_lead(admin, email="other@x.example")).json()
    assert not second["possible_duplicate"]
    url = f"/v1/leads/{second['id']}"
    flagged = await ok(
        await admin.patch(url, json={"email": "JAN@x.example"}, headers={"If-Match": '"1"'})
    )
    assert flagged["possible_duplicate"] and flagged["duplicate_of_lead_id"] == first["id"]
    cleared = await ok(
        await admin.patch(url, json={"email": "new@x.example"}, headers={"If-Match": '"2"'})
    )
    assert not cleared["possible_duplicate"]
    # Editing the first lead's other fields does not flag it as a duplicate of itself.
    unchanged = await ok(
        await admin.patch(
            f"/v1/leads/{first['id']}", json={"phone": "+48601234567"}, headers={"If-Match": '"1"'}
        )
    )
    assert not unchanged["possible_duplicate"]


async def test_a_rep_edits_only_their_own_leads(api_for: Api) -> None:
    anna, piotr = api_for(["sales_rep"], "anna"), api_for(["sales_rep"], "piotr")
    theirs = (await new_lead(anna)).json()
    assert theirs["owner_id"] == "anna"
    url = f"/v1/leads/{theirs['id']}"
    hidden = await piotr.patch(url, json={"last_name": "X"}, headers={"If-Match": '"1"'})
    assert hidden.status_code == 404
    own = await anna.patch(url, json={"last_name": "X"}, headers={"If-Match": '"1"'})
    assert own.status_code == 200
