"""contact.unmerged: the tickets, SLA timers and assets that contact.merged moved to the
survivor go back to the restored person, exactly those (later ones and those of people still
merged stay), once however often the event is replayed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_shared.events.contacts import ContactMerged, ContactUnmerged
from crm_shared.events.envelope import EventData
from crm_shared.events.erp import OrderLine, OrderPlaced
from crm_shared.uow import UnitOfWork
from crm_tickets.handlers import SUBSCRIPTION
from crm_tickets.sla.scheduler import scan
from crm_tickets.tickets import service
from crm_tickets.tickets.schemas import Requester, TicketCreate
from tests.helpers import inbound
from tests.tickets.conftest import tickets_events


async def deliver(app: FastAPI, tenant: str, event: EventData) -> None:
    """One event through tickets' consumer handler, in a transaction of its own."""
    handler = SUBSCRIPTION.handlers[(event.topic, event.type)]
    async with UnitOfWork(app.state.sessionmaker, tenant_id=tenant, actor=None, source="/t") as uow:
        await handler(uow, inbound(event))


async def overdue_ticket(app: FastAPI, tenant: str, requester: str) -> str:
    """A ticket opened two minutes ago: its one-minute first-response timer is due."""
    person = uuid.UUID(requester)
    data = TicketCreate(subject="Broken", requester=Requester(person_id=person))
    at = datetime.now(UTC) - timedelta(minutes=2)
    uow = UnitOfWork(app.state.sessionmaker, tenant_id=tenant, actor="agent-1", source="/t")
    async with uow:
        return str((await service.create_ticket(uow, data, person, at=at)).id)


async def bought(app: FastAPI, tenant: str, person: str, serial: str) -> None:
    line = OrderLine(sku="X1", quantity=Decimal(1), unit_price=Decimal(9), serial_number=serial)
    order = OrderPlaced(
        tenant_id=tenant,
        contact_id=person,
        order_id=f"SO-{serial}",
        placed_at=datetime.now(UTC),
        total=Decimal(9),
        currency="PLN",
        lines=[line],
    )
    await deliver(app, tenant, order)


async def requester(desk: httpx.AsyncClient, ticket: str) -> tuple[str, int]:
    got = (await desk.get(f"/v1/tickets/{ticket}")).json()
    return got["requester_id"], got["version"]


async def serials(desk: httpx.AsyncClient, person: str) -> list[str]:
    assets = (await desk.get("/v1/assets", params={"contact_id": person})).json()
    return sorted(a["serial_number"] for a in assets)


async def breached_for(owner: AsyncEngine, tenant: str) -> dict[str, str]:
    """Ticket -> the person its first-response breach was reported for."""
    events = await tickets_events(owner, tenant)
    breaches = [e["data"] for e in events if e["type"] == "crm.ticket.sla_breached"]
    return {b["ticket_id"]: b["contact_id"] for b in breaches}


async def test_unmerge_gives_the_restored_person_back_what_the_merge_moved(
    tickets_app: FastAPI, desk: httpx.AsyncClient, tickets_owner: AsyncEngine, tenant: str
) -> None:
    policy = {"name": "fast", "business_hours": False, "first_response_minutes": 1}
    assert (await desk.post("/v1/sla-policies", json=policy)).status_code == 201
    survivor, restored, still_merged = (str(uuid.uuid4()) for _ in range(3))
    survivors_ticket = await overdue_ticket(tickets_app, tenant, survivor)
    restored_ticket = await overdue_ticket(tickets_app, tenant, restored)
    other_ticket = await overdue_ticket(tickets_app, tenant, still_merged)
    for person, serial in ((survivor, "S1"), (restored, "R1"), (still_merged, "M1")):
        await bought(tickets_app, tenant, person, serial)
    merge_id = str(uuid.uuid4())
    merged = ContactMerged(
        tenant_id=tenant,
        contact_id=survivor,
        merged_ids=[restored, still_merged],
        merge_id=merge_id,
    )
    await deliver(tickets_app, tenant, merged)
    assert await requester(desk, restored_ticket) == (survivor, 2)
    assert await serials(desk, survivor) == ["M1", "R1", "S1"]
    later_ticket = await overdue_ticket(tickets_app, tenant, survivor)  # after the merge

    unmerged = ContactUnmerged(
        tenant_id=tenant, contact_id=survivor, merge_id=merge_id, restored_ids=[restored]
    )
    await deliver(tickets_app, tenant, unmerged)
    await deliver(tickets_app, tenant, unmerged)  # redelivered: changes nothing more
    assert await requester(desk, restored_ticket) == (restored, 3)
    assert await serials(desk, restored) == ["R1"]
    assert await requester(desk, other_ticket) == (survivor, 2)  # not restored by this undo
    assert await requester(desk, survivors_ticket) == (survivor, 1)
    assert await requester(desk, later_ticket) == (survivor, 1)
    assert await serials(desk, survivor) == ["M1", "S1"]
    # The SLA timers followed: the breach of the restored person's ticket names them.
    await scan(tickets_app.state.sessionmaker, "/crm/tickets")
    assert await breached_for(tickets_owner, tenant) == {
        survivors_ticket: survivor,
        restored_ticket: restored,
        other_ticket: survivor,
        later_ticket: survivor,
    }


async def test_what_moved_on_since_stays_and_an_unrecorded_merge_restores_nothing(
    tickets_app: FastAPI, desk: httpx.AsyncClient, tenant: str
) -> None:
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    ticket = await overdue_ticket(tickets_app, tenant, first)
    await bought(tickets_app, tenant, first, "F1")
    merge_id = str(uuid.uuid4())
    await deliver(
        tickets_app,
        tenant,
        ContactMerged(tenant_id=tenant, contact_id=second, merged_ids=[first], merge_id=merge_id),
    )
    # The survivor is merged on by an older producer (no merge id): still repointed.
    await deliver(
        tickets_app, tenant, ContactMerged(tenant_id=tenant, contact_id=third, merged_ids=[second])
    )
    assert await requester(desk, ticket) == (third, 3)
    for survivor, undone, restored in (
        (second, merge_id, first),  # the ticket is no longer on this merge's survivor
        (third, str(uuid.uuid4()), second),  # nothing was recorded for the id-less merge
    ):
        await deliver(
            tickets_app,
            tenant,
            ContactUnmerged(
                tenant_id=tenant, contact_id=survivor, merge_id=undone, restored_ids=[restored]
            ),
        )
    assert await requester(desk, ticket) == (third, 3)
    assert await serials(desk, third) == ["F1"]
