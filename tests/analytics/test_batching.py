"""One consumer batch = one transaction: buffered writes give the same result as applying the
events one by one, also when a batch spans tenants, updates a row twice, writes its buffer more
than once or fails (its staged rows go with it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from crm_analytics.handlers import SUBSCRIPTION
from crm_analytics.projections.batch import write_buffered
from crm_shared.db import create_sessionmaker
from crm_shared.events.envelope import EventData
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from tests.analytics.events import Feed, ct, erp, inbound, interaction, new_id, order
from tests.conftest import client

T0 = datetime(2026, 6, 1, tzinfo=UTC)


async def test_a_batch_spanning_tenants_writes_each_row_in_its_tenant(
    analytics_app: FastAPI, tenant: str, api: httpx.AsyncClient
) -> None:
    other = f"{tenant}-b"
    ada, bob = new_id(), new_id()
    events = [
        inbound(interaction(tenant, ada, T0, summary="mine")),
        inbound(interaction(other, bob, T0, summary="theirs")),
        inbound(order(tenant, ada, T0, "10.00")),
        inbound(order(other, bob, T0, "20.00")),
    ]
    # as the ConsumerRunner does: one unit of work, the tenant switched per event
    async with UnitOfWork(
        analytics_app.state.sessionmaker, tenant_id=tenant, actor=None, source="/test"
    ) as uow:
        for event in events:
            await uow.switch_tenant(event.tenant_id)
            await SUBSCRIPTION.handlers[(event.topic, event.type)](uow, event)
        await write_buffered(uow)
    mine = (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]
    assert {i["summary"] for i in mine} == {"mine", "Order placed 10.00 EUR"}
    assert (await api.get(f"/v1/customers/{bob}/timeline")).json()["items"] == []
    async with client(analytics_app, other, roles=["analyst"]) as theirs:
        body = (await theirs.get(f"/v1/customers/{bob}")).json()
        assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "20.00"}]


async def test_a_row_updated_twice_in_one_batch_ends_as_if_applied_in_order(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    ada = new_id()
    placed = order(tenant, ada, T0, "99.00")
    cancelled = erp.OrderCancelled(
        tenant_id=tenant,
        contact_id=ada,
        order_id=placed.order_id,
        cancelled_at=T0 + timedelta(hours=1),
    )
    kept = order(tenant, ada, T0, "5.00")
    # the cancellation overtakes the order; a correction re-sends the other order's total
    corrected = kept.model_copy(update={"total": kept.total * 2})
    await feed(cancelled, placed, kept, inbound(corrected))
    body = (await api.get(f"/v1/customers/{ada}")).json()
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "10.00"}]
    types = [i["type"] for i in (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]]
    assert sorted(types) == ["order.cancelled", "order.placed", "order.placed", "order.placed"]


async def test_a_merge_in_the_middle_of_a_batch_sees_the_rows_before_it(
    api: httpx.AsyncClient, feed: Feed, tenant: str
) -> None:
    survivor, duplicate = new_id(), new_id()
    await feed(
        order(tenant, duplicate, T0, "7.00"),
        interaction(tenant, duplicate, T0, summary="before the merge"),
        ct.ContactMerged(tenant_id=tenant, contact_id=survivor, merged_ids=[duplicate]),
        order(tenant, duplicate, T0 + timedelta(days=1), "3.00"),
    )
    body = (await api.get(f"/v1/customers/{survivor}")).json()
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "10.00"}]
    summaries = {
        i["summary"] for i in (await api.get(f"/v1/customers/{survivor}/timeline")).json()["items"]
    }
    assert "before the merge" in summaries


async def apply(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: str, *events: EventData, fail: bool
) -> None:
    """Events in one unit of work, the buffer written after each (as a merge or an erasure in
    the middle of a batch does); with `fail`, a later handler then fails."""
    async with UnitOfWork(sessionmaker, tenant_id=tenant, actor=None, source="/test") as uow:
        for data in events:
            event = inbound(data)
            await SUBSCRIPTION.handlers[(event.topic, event.type)](uow, event)
            await write_buffered(uow)
        if fail:
            raise RuntimeError("a later handler failed")


async def test_rows_written_earlier_in_a_batch_are_not_written_again(
    analytics_app: FastAPI, tenant: str, api: httpx.AsyncClient
) -> None:
    ada = new_id()
    placed = order(tenant, ada, T0, "30.00")
    cancelled = erp.OrderCancelled(
        tenant_id=tenant, contact_id=ada, order_id=placed.order_id, cancelled_at=T0
    )
    await apply(analytics_app.state.sessionmaker, tenant, placed, cancelled, fail=False)
    body = (await api.get(f"/v1/customers/{ada}")).json()
    assert body["lifetime_revenue"] == []
    types = [i["type"] for i in (await api.get(f"/v1/customers/{ada}/timeline")).json()["items"]]
    assert sorted(types) == ["order.cancelled", "order.placed"]


async def test_a_failed_batch_leaves_nothing_staged_for_the_next_one_on_its_connection(
    analytics_settings: ServiceSettings, tenant: str, api: httpx.AsyncClient
) -> None:
    # one connection, new to this test: the failed batch is the first to stage rows on it
    engine = create_async_engine(analytics_settings.database_url, pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    ada = new_id()
    try:
        with pytest.raises(RuntimeError):
            await apply(sessionmaker, tenant, order(tenant, ada, T0, "5.00"), fail=True)
        await apply(sessionmaker, tenant, order(tenant, ada, T0, "8.00"), fail=False)
    finally:
        await engine.dispose()
    body = (await api.get(f"/v1/customers/{ada}")).json()
    assert body["lifetime_revenue"] == [{"currency": "EUR", "amount": "8.00"}]
