"""Requester matching against the local contacts projection; unknown people are created in
contacts over HTTP (Idempotency-Key, so a retried intake never creates two)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from crm_shared.errors import ServiceUnavailable
from crm_shared.peers import peer_client
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from crm_tickets.directory.models import Asset, CustomerTier, KnownContact


async def find_contact(
    uow: UnitOfWork, *, email: str | None = None, phone: str | None = None
) -> uuid.UUID | None:
    for column, value in ((KnownContact.emails, email), (KnownContact.phones, phone)):
        if value:
            found = await uow.session.scalar(
                select(KnownContact.contact_id)
                .where(column.contains([value]))
                .order_by(KnownContact.updated_at.desc())
                .limit(1)
            )
            if found is not None:
                return found
    return None


async def remember_contact(
    uow: UnitOfWork,
    contact_id: uuid.UUID,
    emails: list[str],
    phones: list[str],
    version: int = 0,
) -> None:
    """Upsert the projection; an older snapshot never overwrites a newer one."""
    statement = insert(KnownContact).values(
        id=uuid.uuid4(),
        tenant_id=uow.tenant_id,
        contact_id=contact_id,
        emails=[e.lower() for e in emails],
        phones=phones,
        version=version,
        updated_at=datetime.now(UTC),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "contact_id"],
        set_={
            "emails": statement.excluded.emails,
            "phones": statement.excluded.phones,
            "version": statement.excluded.version,
            "updated_at": statement.excluded.updated_at,
        },
        where=KnownContact.version <= statement.excluded.version,
    )
    await uow.session.execute(statement)


async def forget_contact(uow: UnitOfWork, contact_id: uuid.UUID) -> None:
    row = await uow.session.scalar(
        select(KnownContact).where(KnownContact.contact_id == contact_id)
    )
    if row is not None:
        await uow.session.delete(row)


async def value_tier(uow: UnitOfWork, contact_id: uuid.UUID) -> str | None:
    return await uow.session.scalar(
        select(CustomerTier.value_tier).where(CustomerTier.contact_id == contact_id)
    )


def warranty_until(asset: Asset) -> date | None:
    if asset.warranty_months is None:
        return None
    months = asset.purchase_date.month - 1 + asset.warranty_months
    year, month = asset.purchase_date.year + months // 12, months % 12 + 1
    day = min(asset.purchase_date.day, _days_in(year, month))
    return date(year, month, day)


def _days_in(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - date(year, month, 1)).days


class ContactsClient:
    """Creates people in the contacts service. `transport` lets tests point it at the real
    contacts app in-process; in production it talks to TICKETS_CONTACTS_URL."""

    def __init__(
        self, settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport

    async def create_person(
        self, tenant: str, *, email: str | None, phone: str | None, name: str | None
    ) -> tuple[uuid.UUID, list[str], list[str]]:
        body: dict[str, object] = {"lifecycle_stage": "customer", "source": "tickets"}
        if email:
            body["emails"] = [{"email": email, "primary": True}]
        if phone:
            body["phones"] = [{"number": phone, "kind": "mobile"}]
        if name:
            first, _, last = name.partition(" ")
            body["first_name"] = first[:100]
            if last:
                body["last_name"] = last[:100]
        key = hashlib.sha256(f"tickets-requester:{tenant}:{email}:{phone}".encode()).hexdigest()
        async with peer_client(
            self.settings, "contacts", tenant=tenant, transport=self.transport
        ) as client:
            response = await client.post("/v1/people", json=body, headers={"Idempotency-Key": key})
        if response.status_code == 409 and "conflicting_id" in response.json():
            # Known to contacts, not yet to our projection (its event is on its way).
            return uuid.UUID(response.json()["conflicting_id"]), [email or ""], [phone or ""]
        if response.status_code != 201:
            raise ServiceUnavailable(f"The contacts service answered {response.status_code}.")
        person = response.json()
        return (
            uuid.UUID(person["id"]),
            [e["email"] for e in person["emails"]],
            [p["number"] for p in person["phones"]],
        )
