"""contact.unmerged: what contact.merged repointed to the survivor goes back to the restored
person, exactly that (later records stay with the survivor), once however often replayed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from crm_shared.events.catalog import ContactCreated, ContactMerged
from crm_shared.events.contacts import ContactUnmerged
from tests.opportunities.conftest import ok
from tests.opportunities.helpers import make_deal, make_pipeline
from tests.opportunities.test_handlers import deliver, snapshot


async def person_of(admin: httpx.AsyncClient, deal: dict[str, Any]) -> tuple[str, int]:
    got = await ok(await admin.get(f"/v1/opportunities/{deal['id']}"))
    return got["person_id"], got["version"]


async def known_person(opp_app: FastAPI, tenant: str, email: str) -> str:
    contact_id = str(uuid.uuid4())
    await deliver(
        opp_app,
        ContactCreated(
            tenant_id=tenant, contact_id=contact_id, contact=snapshot(contact_id, email)
        ),
    )
    return contact_id


async def test_unmerge_restores_what_the_merge_moved_for_the_restored_person(
    opp_app: FastAPI, admin: httpx.AsyncClient, tenant: str
) -> None:
    survivor = await known_person(opp_app, tenant, "anna@x.example")
    restored = await known_person(opp_app, tenant, "ania@x.example")
    still_merged = await known_person(opp_app, tenant, "a.k@x.example")
    pipeline = await make_pipeline(admin)
    survivors_deal = await make_deal(admin, pipeline, person_id=survivor)
    restored_deal = await make_deal(admin, pipeline, person_id=restored)
    other_deal = await make_deal(admin, pipeline, person_id=still_merged)
    flagged = await ok(await admin.post("/v1/leads", json={"email": "ania@x.example"}), 201)
    assert flagged["duplicate_of_contact_id"] == restored
    merge_id = str(uuid.uuid4())
    await deliver(
        opp_app,
        ContactMerged(
            tenant_id=tenant,
            contact_id=survivor,
            merged_ids=[restored, still_merged],
            merge_id=merge_id,
        ),
    )
    assert await person_of(admin, restored_deal) == (survivor, 2)
    lead_url = f"/v1/leads/{flagged['id']}"
    assert (await ok(await admin.get(lead_url)))["duplicate_of_contact_id"] == survivor
    later_deal = await make_deal(admin, pipeline, person_id=survivor)  # after the merge

    await deliver(
        opp_app,
        ContactUnmerged(
            tenant_id=tenant, contact_id=survivor, merge_id=merge_id, restored_ids=[restored]
        ),
    )  # delivered twice: the replay changes nothing more
    assert await person_of(admin, restored_deal) == (restored, 3)
    assert (await ok(await admin.get(lead_url)))["duplicate_of_contact_id"] == restored
    assert await person_of(admin, other_deal) == (survivor, 2)  # not restored by this undo
    assert await person_of(admin, survivors_deal) == (survivor, 1)
    assert await person_of(admin, later_deal) == (survivor, 1)
    # The restored person's email is theirs again for the duplicate check.
    await ok(await admin.post(f"{lead_url}/disqualify", json={"reason": "same person"}))
    again = await ok(await admin.post("/v1/leads", json={"email": "ania@x.example"}), 201)
    assert again["duplicate_of_contact_id"] == restored
    fresh = await ok(await admin.post("/v1/leads", json={"email": "a.k@x.example"}), 201)
    assert fresh["duplicate_of_contact_id"] == survivor


async def test_an_unknown_or_unrecorded_merge_restores_nothing(
    opp_app: FastAPI, admin: httpx.AsyncClient, tenant: str
) -> None:
    survivor, loser = str(uuid.uuid4()), str(uuid.uuid4())
    pipeline = await make_pipeline(admin)
    deal = await make_deal(admin, pipeline, person_id=loser)
    # A merge event without a merge id cannot be undone here: nothing was recorded.
    await deliver(opp_app, ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[loser]))
    for merge_id in (str(uuid.uuid4()), "not-a-known-merge"):
        await deliver(
            opp_app,
            ContactUnmerged(
                tenant_id=tenant, contact_id=survivor, merge_id=merge_id, restored_ids=[loser]
            ),
        )
    assert await person_of(admin, deal) == (survivor, 2)
