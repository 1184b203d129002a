"""The least machinery that does the contacts service's work: a bare Starlette app on raw
asyncpg running the same SQL (tenant setting, uniqueness check, the person and email rows, the
outbox row; JWT verification too). `bench.contacts` measures the service against it."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crm_shared.ids import uuid7
from crm_shared.settings import DEV_JWT_SECRET

DSN = os.environ.get("REFERENCE_DSN", "postgresql://crm_app:crm_app@127.0.0.1:5432/crm_contacts")
POOL: dict[str, asyncpg.Pool] = {}


def _tenant(request: Request) -> str:
    token = request.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(
        token, DEV_JWT_SECRET, algorithms=["HS256"], options={"require": ["exp", "sub", "tid"]}
    )
    return str(claims["tid"])


async def create_person(request: Request) -> Response:
    tenant = _tenant(request)
    body = json.loads(await request.body())
    email = body["emails"][0]["email"].strip().lower()
    person_id, now = uuid7(), datetime.now(UTC)
    async with POOL["db"].acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        taken = await conn.fetchrow(
            "SELECT email, person_id FROM person_emails WHERE email = ANY($1::varchar[])", [email]
        )
        if taken:
            return JSONResponse({"detail": "taken"}, status_code=409)
        await conn.fetch(  # the tenant's custom-field definitions, checked on every write
            "SELECT * FROM custom_fields WHERE entity = 'person' ORDER BY key"
        )
        await conn.execute(
            "INSERT INTO people (id, tenant_id, first_name, last_name, lifecycle_stage, tags, "
            "attributes, addresses, do_not_contact, version, created_at, updated_at) VALUES "
            "($1, $2, $3, $4, 'lead', '{}', '{}', '[]', false, 1, $5, $5)",
            person_id,
            tenant,
            body.get("first_name"),
            body.get("last_name"),
            now,
        )
        await conn.execute(
            "INSERT INTO person_emails (id, tenant_id, person_id, email, is_primary, position) "
            "VALUES ($1, $2, $3, $4, true, 0)",
            uuid7(),
            tenant,
            person_id,
            email,
        )
        data = {
            "tenant_id": tenant,
            "contact_id": str(person_id),
            "contact": {
                "contact_id": str(person_id),
                "first_name": body.get("first_name"),
                "last_name": body.get("last_name"),
                "emails": [email],
            },
        }
        await conn.execute(
            "INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, data) "
            "VALUES ($1, $2, 'crm.contacts.v1', $3, 'crm.contact.created', '/crm/contacts', $3, "
            "$4, $5::jsonb)",
            uuid.UUID(str(uuid7())),
            tenant,
            str(person_id),
            now,
            json.dumps(data),
        )
    return JSONResponse(
        {
            "id": str(person_id),
            "first_name": body.get("first_name"),
            "emails": [{"email": email, "primary": True}],
            "version": 1,
        },
        status_code=201,
        headers={"ETag": '"1"'},
    )


async def get_person(request: Request) -> Response:
    tenant = _tenant(request)
    person_id = uuid.UUID(request.path_params["person_id"])
    async with POOL["db"].acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        person = await conn.fetchrow(
            "SELECT * FROM people WHERE id = $1 AND deleted_at IS NULL", person_id
        )
        if person is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        emails = await conn.fetch(
            "SELECT email, is_primary FROM person_emails WHERE person_id = $1 ORDER BY position",
            person_id,
        )
        phones = await conn.fetch(
            "SELECT number, kind, is_primary FROM person_phones "
            "WHERE person_id = $1 ORDER BY position",
            person_id,
        )
    return JSONResponse(
        {
            "id": str(person["id"]),
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "lifecycle_stage": person["lifecycle_stage"],
            "emails": [{"email": e["email"], "primary": e["is_primary"]} for e in emails],
            "phones": [{"number": p["number"], "kind": p["kind"]} for p in phones],
            "version": person["version"],
            "updated_at": person["updated_at"].isoformat(),
        },
        headers={"ETag": f'"{person["version"]}"'},
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    POOL["db"] = await asyncpg.create_pool(DSN, min_size=10, max_size=20)
    yield
    await POOL["db"].close()


app = Starlette(
    routes=[
        Route("/v1/people", create_person, methods=["POST"]),
        Route("/v1/people/{person_id}", get_person, methods=["GET"]),
    ],
    lifespan=lifespan,
)
