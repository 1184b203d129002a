"""Row-level security: tenant A cannot read or change tenant B's rows, even with raw SQL on the
application role, and a transaction with no tenant sees nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Client
from tests.helpers import create_person


async def test_api_hides_other_tenants(client_for: Client, tenant: str) -> None:
    a, b = client_for(tenant + "-a"), client_for(tenant + "-b")
    person = await create_person(b, emails=[{"email": "b@example.com"}])
    assert (await a.get(f"/v1/people/{person['id']}")).status_code == 404
    assert (await a.get("/v1/people")).json()["items"] == []
    stolen = await a.patch(
        f"/v1/people/{person['id']}", json={"first_name": "Mallory"}, headers={"If-Match": '"1"'}
    )
    assert stolen.status_code == 404
    assert (await b.get(f"/v1/people/{person['id']}")).json()["first_name"] == "Ada"


async def test_raw_sql_on_the_app_role_is_confined(
    contacts_app: FastAPI, api: httpx.AsyncClient, tenant: str
) -> None:
    victim = await create_person(api)
    engine = contacts_app.state.engine
    async with engine.begin() as conn:
        role = await conn.scalar(text("SELECT current_user"))
        assert role == "crm_app"
        await conn.execute(text("SELECT set_config('app.tenant_id', 'intruder', true)"))
        assert await conn.scalar(text("SELECT count(*) FROM people")) == 0
        updated = await conn.execute(text("UPDATE people SET first_name = 'X'"))
        assert updated.rowcount == 0
        deleted = await conn.execute(text("DELETE FROM person_emails"))
        assert deleted.rowcount == 0
    async with engine.begin() as conn:  # no tenant set at all
        assert await conn.scalar(text("SELECT count(*) FROM people")) == 0
    insert = text(
        "INSERT INTO people (id, tenant_id, lifecycle_stage, tags, attributes, addresses, "
        "do_not_contact, version, created_at, updated_at) VALUES (gen_random_uuid(), :victim, "
        "'lead', '{}', '{}', '[]', false, 1, now(), now())"
    )
    async with engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', 'intruder', false)"))
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(insert, {"victim": tenant})
    assert (await api.get(f"/v1/people/{victim['id']}")).json()["first_name"] == "Ada"
