"""CSV import as a job: per-row errors, progress, idempotent re-runs, the API's own rules."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_contacts.imports.service import error_rows
from crm_shared.uow import UnitOfWork
from tests import helpers
from tests.helpers import count_rows, create_person, outbox_events

MAPPING = {
    "E-mail": "email",
    "First": "first_name",
    "Last": "last_name",
    "Phone": "phones",
    "Stage": "lifecycle_stage",
    "Tier": "attr.tier",
}


def csv_file(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(MAPPING))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def run_import(
    api: httpx.AsyncClient, content: bytes, mapping: dict[str, str] = MAPPING
) -> dict[str, Any]:
    return await helpers.run_import(api, content, mapping, match_on="email")


def rows_with_bad_ones(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        row = {
            "E-mail": f"user{i}@example.com",
            "First": f"User{i}",
            "Last": "Test",
            "Phone": f"+4860100{i:04d}",
            "Stage": "lead",
            "Tier": "gold",
        }
        if i % 10 == 3:
            row["E-mail"] = "not-an-email"  # every tenth row is bad, in several ways
        elif i % 10 == 7:
            row["Stage"] = "alien"
        rows.append(row)
    return rows


async def test_import_with_bad_rows_then_rerun_changes_nothing(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str, contacts_app: FastAPI
) -> None:
    field = await api.post(
        "/v1/custom-fields",
        json={
            "entity": "person",
            "key": "tier",
            "label": "Tier",
            "type": "select",
            "options": ["gold"],
        },
    )
    assert field.status_code == 201
    content = csv_file(rows_with_bad_ones(50))
    job = await run_import(api, content)
    assert job["status"] == "done", job
    assert (job["total_rows"], job["rows_done"]) == (50, 50)
    assert (job["created_count"], job["error_count"]) == (40, 10)

    report = await api.get(f"/v1/imports/{job['id']}/errors")
    assert report.status_code == 200
    errors = list(csv.DictReader(io.StringIO(report.text)))
    assert sorted({int(e["row"]) for e in errors}) == [i + 1 for i in range(50) if i % 10 in (3, 7)]
    assert any(e["pointer"] == "/lifecycle_stage" for e in errors)
    work = UnitOfWork(contacts_app.state.sessionmaker, tenant_id=tenant, actor=None, source="/t")
    paged = [row async for row, _ in error_rows(work, uuid.UUID(job["id"]), page=3)]
    assert paged == sorted({int(e["row"]) for e in errors})  # page after page, none twice

    people = (await api.get("/v1/people", params={"limit": 200})).json()["items"]
    assert len(people) == 40
    one = next(p for p in people if p["emails"][0]["email"] == "user0@example.com")
    assert one["phones"][0]["number"] == "+48601000000"
    assert one["attributes"] == {"tier": "gold"}
    events_before = len(await outbox_events(owner_engine, tenant))

    again = await run_import(api, content)
    assert (again["created_count"], again["updated_count"]) == (0, 0)
    assert (again["unchanged_count"], again["error_count"]) == (40, 10)
    assert len(await outbox_events(owner_engine, tenant)) == events_before  # nothing happened


async def test_import_updates_by_email_and_respects_uniqueness(api: httpx.AsyncClient) -> None:
    existing = await create_person(api, emails=[{"email": "ada@example.com"}], external_id="x-1")
    await create_person(api, first_name="Other", external_id="x-2")
    content = (
        b"mail,first,ext\n"
        b"ada@example.com,Augusta,\n"  # matches by email: updated
        b"new@example.com,New,x-2\n"  # external id taken by another person: rejected (409 rule)
    )
    mapping = {"mail": "email", "first": "first_name", "ext": "external_id"}
    job = await run_import(api, content, mapping)
    assert (job["updated_count"], job["created_count"], job["error_count"]) == (1, 0, 1)
    person = (await api.get(f"/v1/people/{existing['id']}")).json()
    assert person["first_name"] == "Augusta" and person["external_id"] == "x-1"


async def test_bad_mapping_is_rejected_before_anything_runs(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/imports",
        params={"mapping": json.dumps({"a": "shoe_size"})},
        content=b"a\n1\n",
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert (
        await api.post("/v1/imports", params={"mapping": "nope"}, content=b"")
    ).status_code == 422


async def test_a_large_file_with_long_cells_is_imported(api: httpx.AsyncClient) -> None:
    notes = "x" * 200_000  # a column the mapping leaves out, past Python's csv default
    lines = ["E-mail,First,Notes", *(f"big{i}@example.com,Big{i},{notes}" for i in range(6))]
    content = "\n".join(lines).encode()
    assert len(content) > 1_000_000  # over the limit of the API's other requests

    job = await run_import(api, content, {"E-mail": "email", "First": "first_name"})

    assert (job["status"], job["created_count"], job["error_count"]) == ("done", 6, 0)


async def test_an_upload_cut_short_leaves_a_failed_job_not_a_waiting_one(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    async def cut_short() -> AsyncIterator[bytes]:
        yield csv_file(rows_with_bad_ones(3))
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await api.post(
            "/v1/imports",
            params={"mapping": json.dumps(MAPPING)},
            content=cut_short(),
            headers={"Content-Type": "text/csv"},
        )

    async with owner_engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        jobs = (await conn.execute(text("SELECT status, failure FROM import_jobs"))).all()
    assert [tuple(job) for job in jobs] == [("failed", "the upload did not complete")]
    assert await count_rows(owner_engine, "people", tenant) == 0
