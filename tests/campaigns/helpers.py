"""Feeding campaigns' projection through its own consumer handlers (real PostgreSQL), and
shortcuts for the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from crm_campaigns.handlers import SUBSCRIPTION
from crm_shared.events.envelope import EventData
from crm_shared.ids import uuid7
from crm_shared.uow import UnitOfWork
from tests.helpers import inbound


def snapshot(contact_id: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "contact_id": contact_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "primary_email": f"{contact_id[-8:]}@example.com",
        "emails": [f"{contact_id[-8:]}@example.com"],
        "phones": ["+48601234567"],
        "job_title": None,
        "language": "en",
        "timezone": None,
        "country": "PL",
        "lifecycle_stage": "customer",
        "source": None,
        "tags": [],
        "attributes": {},
        "owner_id": None,
        "relationship_level": None,
        "preferred_channel": None,
        "do_not_contact": False,
        "company_ids": [],
        "version": version,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    return base | fields


class Feeder:
    """Delivers catalog events to campaigns' handlers, one transaction each (as the consumer
    runner does, minus the broker)."""

    def __init__(self, app: FastAPI, tenant: str) -> None:
        self.app, self.tenant = app, tenant

    async def event(self, event: EventData, *, event_id: str | None = None) -> None:
        handler = SUBSCRIPTION.handlers[(event.topic, event.type)]
        async with UnitOfWork(
            self.app.state.sessionmaker, tenant_id=self.tenant, actor=None, source="/crm/test"
        ) as uow:
            await handler(uow, inbound(event, event_id=event_id, source="/crm/test"))

    async def person(
        self,
        *,
        consent: list[str] | None = None,
        contact_id: str | None = None,
        **fields: Any,
    ) -> str:
        """A person known to contacts, with marketing consent granted on `consent` channels
        (email unless told)."""
        from crm_shared.events.catalog import ConsentGranted, ContactCreated, ContactSnapshot

        cid = contact_id or str(uuid7())
        snap = ContactSnapshot.model_validate(snapshot(cid, **fields))
        await self.event(ContactCreated(tenant_id=self.tenant, contact_id=cid, contact=snap))
        for channel in ["email"] if consent is None else consent:
            await self.event(
                ConsentGranted(
                    tenant_id=self.tenant,
                    contact_id=cid,
                    channel=channel,
                    purpose="marketing",
                    source="web-form",
                    captured_at=datetime.now(UTC),
                )
            )
        return cid


async def make_segment(api: httpx.AsyncClient, rules: dict[str, Any], name: str = "s") -> str:
    response = await api.post(
        "/v1/segments", json={"name": name, "kind": "dynamic", "rules": rules}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def tagged(tag: str) -> dict[str, Any]:
    return {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": tag}]}


async def make_campaign(
    api: httpx.AsyncClient, segment_ids: list[str], **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "Spring",
        "channel": "email",
        "subject": "Hello {first_name}",
        "body": "Dear {first_name}, spring is here.",
        "planned_start": "2027-03-01T09:00:00Z",
        "planned_end": "2027-03-10T09:00:00Z",
        "segment_ids": segment_ids,
    } | fields
    response = await api.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def build(api: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    response = await api.post(f"/v1/campaigns/{campaign_id}/audience")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def move(api: httpx.AsyncClient, campaign_id: str, status: str) -> dict[str, Any]:
    current = await api.get(f"/v1/campaigns/{campaign_id}")
    response = await api.post(
        f"/v1/campaigns/{campaign_id}/status",
        json={"status": status},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def members(api: httpx.AsyncClient, campaign_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/campaigns/{campaign_id}/members", params={"limit": 200})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def new_id() -> str:
    return str(uuid.uuid4())
