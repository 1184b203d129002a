"""contact.unmerged in campaigns: the merge only took the merged people out of the projection
(their members, touches and consents stay under their own ids), so the undo brings exactly
the restored people back into segments and audiences, once however often it is replayed."""

from __future__ import annotations

import httpx

from crm_shared.events.catalog import ContactDeleted, ContactMerged
from crm_shared.events.contacts import ContactUnmerged
from tests.campaigns.helpers import (
    Feeder,
    build,
    make_campaign,
    make_segment,
    members,
    new_id,
    tagged,
)
from tests.campaigns.test_projection import preview, updated


async def live(capi: httpx.AsyncClient, tag: str) -> set[str]:
    result = await preview(capi, tagged(tag))
    sample = result["sample"]
    assert isinstance(sample, list) and result["count"] == len(sample)
    return {p["contact_id"] for p in sample}


async def test_unmerge_brings_back_the_restored_person_only(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    survivor, restored, still_merged = [await feed.person(tags=["u"]) for _ in range(3)]
    merge_id = new_id()
    await feed.event(
        ContactMerged(
            tenant_id=tenant,
            contact_id=survivor,
            merged_ids=[restored, still_merged],
            merge_id=merge_id,
        )
    )
    assert await live(capi, "u") == {survivor}
    unmerged = ContactUnmerged(
        tenant_id=tenant, contact_id=survivor, merge_id=merge_id, restored_ids=[restored]
    )
    await feed.event(unmerged)
    await feed.event(updated(tenant, restored, 3, tags=["u"]))  # contacts' snapshot after it
    assert await live(capi, "u") == {survivor, restored}
    # An audience built now reaches the restored person, with the consent they always had.
    campaign = await make_campaign(capi, [await make_segment(capi, tagged("u"))])
    await build(capi, campaign["id"])
    assert {m["contact_id"] for m in await members(capi, campaign["id"])} == {survivor, restored}
    # Deleted later in contacts: a redelivered undo does not bring them back again.
    await feed.event(ContactDeleted(tenant_id=tenant, contact_id=restored))
    await feed.event(unmerged)
    assert await live(capi, "u") == {survivor}


async def test_a_merge_without_merge_id_still_removes_and_has_nothing_to_undo(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    survivor, merged = [await feed.person(tags=["old"]) for _ in range(2)]
    await feed.event(ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[merged]))
    assert await live(capi, "old") == {survivor}
    await feed.event(
        ContactUnmerged(
            tenant_id=tenant, contact_id=survivor, merge_id=new_id(), restored_ids=[merged]
        )
    )
    assert await live(capi, "old") == {survivor}
