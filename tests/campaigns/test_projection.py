"""The local contact projection: ordered by version, idempotent, erasure-proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from crm_shared.events.analytics import CustomerSegmentChanged
from crm_shared.events.catalog import (
    ConsentCorrected,
    ConsentGranted,
    ConsentWithdrawn,
    ContactDeleted,
    ContactErased,
    ContactSnapshot,
    ContactUpdated,
)
from tests.campaigns.helpers import Feeder, make_segment, snapshot, tagged

ALL = {"op": "and", "rules": [{"field": "country", "operator": "is_not_null"}]}


async def preview(capi: httpx.AsyncClient, rules: dict[str, Any]) -> dict[str, Any]:
    response = await capi.post("/v1/segments/preview", json={"rules": rules, "sample_size": 5})
    assert response.status_code == 200, response.text
    return dict(response.json())


def updated(tenant: str, cid: str, version: int, **fields: object) -> ContactUpdated:
    snap = ContactSnapshot.model_validate(snapshot(cid, version=version, **fields))
    return ContactUpdated(tenant_id=tenant, contact_id=cid, contact=snap, changed=list(fields))


async def test_updates_apply_in_version_order_and_replays_change_nothing(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    cid = await feed.person(lifecycle_stage="lead")
    v3 = updated(tenant, cid, 3, lifecycle_stage="customer", tags=["vip"])
    await feed.event(v3)
    await feed.event(updated(tenant, cid, 2, lifecycle_stage="prospect"))  # late, older
    await feed.event(v3)  # replay
    result = await preview(
        capi, {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]}
    )
    assert result["count"] == 1
    sample = result["sample"]
    assert isinstance(sample, list) and sample[0]["lifecycle_stage"] == "customer"


async def test_erasure_removes_pii_and_a_replayed_snapshot_does_not_bring_it_back(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    cid = await feed.person(first_name="Grace")
    await feed.event(ContactErased(tenant_id=tenant, contact_id=cid, erased_at=datetime.now(UTC)))
    await feed.event(updated(tenant, cid, 9, first_name="Grace"))
    assert (await preview(capi, ALL))["count"] == 0
    rules = {"op": "and", "rules": [{"field": "first_name", "operator": "eq", "value": "Grace"}]}
    assert (await preview(capi, rules))["count"] == 0


async def test_deleted_people_leave_segments(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    keep = await feed.person()
    gone = await feed.person()
    await feed.event(ContactDeleted(tenant_id=tenant, contact_id=gone))
    result = await preview(capi, ALL)
    assert result["count"] == 1
    sample = result["sample"]
    assert isinstance(sample, list) and sample[0]["contact_id"] == keep


async def test_consent_is_latest_by_capture_time_whatever_the_arrival_order(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    cid = await feed.person(consent=[], tags=["c"])
    now = datetime.now(UTC)
    common = {"tenant_id": tenant, "contact_id": cid, "channel": "email", "purpose": "marketing"}
    await feed.event(ConsentWithdrawn(**common, source="x", captured_at=now))
    await feed.event(ConsentGranted(**common, source="x", captured_at=now - timedelta(days=1)))
    segment = await capi.post(
        "/v1/segments",
        json={
            "name": "c",
            "kind": "dynamic",
            "rules": {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "c"}]},
        },
    )
    campaign = await capi.post(
        "/v1/campaigns",
        json={"name": "x", "channel": "email", "segment_ids": [segment.json()["id"]]},
    )
    report = (await capi.post(f"/v1/campaigns/{campaign.json()['id']}/audience")).json()
    assert report["members"] == 0 and report["excluded"]["no_consent"] == 1


async def test_a_consent_correction_wins_over_a_newer_voided_entry(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    withdrew, never = await feed.person(consent=[], tags=["m"]), await feed.person(tags=["m"])
    now = datetime.now(UTC)
    for cid in (withdrew, never):  # a merge copied a newer grant onto both
        common = {"tenant_id": tenant, "contact_id": cid, "channel": "email"}
        await feed.event(ConsentGranted(**common, purpose="marketing", source="x", captured_at=now))
    email = {"tenant_id": tenant, "channel": "email", "purpose": "marketing"}
    # ... and its undo voided the copies: one is back to an older withdrawal, one to nothing
    earlier = now - timedelta(days=30)
    await feed.event(
        ConsentCorrected(
            **email,
            contact_id=withdrew,
            status="withdrawn",
            captured_at=earlier,
            voided_entry_ids=["copy-1"],
        )
    )
    await feed.event(
        ConsentCorrected(
            **email, contact_id=never, status="none", captured_at=None, voided_entry_ids=["copy-2"]
        )
    )
    segment = await make_segment(capi, tagged("m"))
    campaign = await capi.post(
        "/v1/campaigns", json={"name": "m", "channel": "email", "segment_ids": [segment]}
    )
    report = (await capi.post(f"/v1/campaigns/{campaign.json()['id']}/audience")).json()
    assert report["members"] == 0 and report["excluded"]["no_consent"] == 2


async def test_analytics_segments_are_projected_and_older_computations_ignored(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    cid = await feed.person()
    now = datetime.now(UTC)
    await feed.event(
        CustomerSegmentChanged(
            tenant_id=tenant,
            contact_id=cid,
            rfm_segment="champions",
            value_tier="key",
            computed_at=now,
        )
    )
    await feed.event(
        CustomerSegmentChanged(
            tenant_id=tenant,
            contact_id=cid,
            rfm_segment="hibernating",
            value_tier="low",
            computed_at=now - timedelta(hours=1),
        )
    )
    rules = {"op": "and", "rules": [{"field": "value_tier", "operator": "eq", "value": "key"}]}
    assert (await preview(capi, rules))["count"] == 1
    # a segment for someone contacts never described does not make a reachable person
    await feed.event(
        CustomerSegmentChanged(
            tenant_id=tenant,
            contact_id="0193a0b4-5f6e-7c1d-8e2f-3a4b5c6d7e8f",
            rfm_segment="x",
            value_tier="key",
            computed_at=now,
        )
    )
    assert (await preview(capi, rules))["count"] == 1


async def test_merged_duplicates_leave_the_projection(
    capi: httpx.AsyncClient, feed: Feeder, tenant: str
) -> None:
    from crm_shared.events.catalog import ContactMerged

    survivor = await feed.person(tags=["m"])
    duplicate = await feed.person(tags=["m"])
    await feed.event(ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[duplicate]))
    result = await preview(
        capi, {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "m"}]}
    )
    assert result["count"] == 1 and result["sample"][0]["contact_id"] == survivor
