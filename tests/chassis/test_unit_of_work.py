"""The unit of work drives the transaction on the driver connection: everything commits once,
or nothing does, and no pooled connection ever carries an open transaction or a tenant."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from crm_contacts.companies.models import Company
from crm_shared.events.catalog import ContactDeleted
from crm_shared.uow import UnitOfWork

INSERT = (
    "INSERT INTO companies (id, tenant_id, name, tags, attributes, version, created_at, "
    "updated_at) VALUES (gen_random_uuid(), $1, $2, '{}', '{}', 1, now(), now())"
)


def uow(app: FastAPI, tenant: str) -> UnitOfWork:
    return UnitOfWork(app.state.sessionmaker, tenant_id=tenant, actor=None, source="/test")


async def test_the_tenant_is_set_exactly_even_with_quotes(contacts_app: FastAPI) -> None:
    for tenant in ("acme", "o'brien", "x'; SELECT 1; --"):
        async with uow(contacts_app, tenant) as work:
            driver = await work.driver()
            assert await driver.fetchval("SELECT current_setting('app.tenant_id')") == tenant
            assert await work.session.scalar(text("SELECT current_setting('app.tenant_id')")) == (
                tenant
            )


async def test_a_failure_rolls_back_orm_and_driver_writes(
    contacts_app: FastAPI, tenant: str
) -> None:
    tag = f"uow-{tenant}"

    async def failing() -> None:
        async with uow(contacts_app, tenant) as work:
            await (await work.driver()).execute(INSERT, tenant, tag)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await failing()
    async with uow(contacts_app, tenant) as work:
        driver = await work.driver()
        count = await driver.fetchval("SELECT count(*) FROM companies WHERE name = $1", tag)
    assert count == 0


async def test_a_savepoint_undoes_only_its_block_and_its_events(
    contacts_app: FastAPI, tenant: str
) -> None:
    def note(work: UnitOfWork, text: str) -> None:
        work.publish(ContactDeleted(tenant_id=tenant, contact_id=text))

    async def undone(work: UnitOfWork) -> None:
        async with work.savepoint():
            await (await work.driver()).execute(INSERT, tenant, "undone")
            note(work, "undone")
            raise LookupError("undo the block")

    async with uow(contacts_app, tenant) as work:
        await (await work.driver()).execute(INSERT, tenant, "kept")
        note(work, "kept")
        with pytest.raises(LookupError):
            await undone(work)
    async with uow(contacts_app, tenant) as work:
        names = await (await work.driver()).fetch("SELECT name FROM companies ORDER BY name")
        events = await (await work.driver()).fetch(
            "SELECT data->>'contact_id' AS contact FROM outbox WHERE tenant_id = $1", tenant
        )
    assert [r["name"] for r in names] == ["kept"]
    assert [r["contact"] for r in events] == ["kept"]


async def test_a_cancelled_unit_of_work_leaves_no_open_transaction_in_the_pool(
    contacts_app: FastAPI, tenant: str
) -> None:
    async def stuck() -> None:
        async with uow(contacts_app, tenant) as work:
            await (await work.driver()).execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(12):  # more than the pool holds: every connection is checked
        async with contacts_app.state.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert not raw.is_in_transaction()
            assert await conn.scalar(text("SELECT current_setting('app.tenant_id', true)")) in (
                None,
                "",
            )


async def test_a_change_made_before_a_tenant_switch_is_written_for_its_own_tenant(
    contacts_app: FastAPI, tenant: str
) -> None:
    async with uow(contacts_app, tenant) as work:
        await (await work.driver()).execute(INSERT, tenant, "before")
    async with uow(contacts_app, tenant) as work:
        company = await work.session.scalar(select(Company).where(Company.name == "before"))
        assert company is not None
        company.name = "after"
        await work.switch_tenant(f"{tenant}-other")  # a consumer batch moving to the next tenant
    async with uow(contacts_app, tenant) as work:
        names = await (await work.driver()).fetch("SELECT name FROM companies")
    assert [r["name"] for r in names] == ["after"]
