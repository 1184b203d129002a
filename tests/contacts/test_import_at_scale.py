"""The set-based import: same rules and events as single writes, rows that repeat within a
file, broken rows, the change feed, progress per chunk, and a job that resumes after the
process running it is killed."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_contacts.imports import cells, runner, service
from crm_shared.uow import UnitOfWork
from crm_shared.validation import normalize_email
from tests.contacts.test_imports import run_import
from tests.contacts.test_sync import drain_until
from tests.helpers import count_rows, create_person, outbox_events

MAPPING = {"mail": "email", "first": "first_name", "last": "last_name", "phone": "phones"}


def people_csv(rows: list[tuple[str, ...]], header: str = "mail,first,last,phone") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def test_imported_people_publish_the_events_single_writes_publish(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    single = await create_person(api, emails=[{"email": "single@example.com"}])
    content = people_csv([("Bulk@Example.com", "Bulk", "Person", "+48 601 000 001")])
    job = await run_import(api, content, MAPPING)
    assert job["created_count"] == 1
    events = await outbox_events(owner_engine, tenant)
    by_contact = {e["data"]["contact_id"]: e for e in events}
    bulk = next(e for e in events if e["data"]["contact_id"] != single["id"])
    assert bulk["type"] == by_contact[single["id"]]["type"] == "crm.contact.created"
    assert bulk["key"] == bulk["data"]["contact_id"]
    snapshot = bulk["data"]["contact"]
    assert set(snapshot) == set(by_contact[single["id"]]["data"]["contact"])
    assert snapshot["emails"] == ["bulk@example.com"]  # normalised as the API does
    assert snapshot["primary_email"] == "bulk@example.com"
    assert snapshot["phones"] == ["+48601000001"]
    assert (snapshot["version"], snapshot["company_ids"]) == (1, [])

    content = people_csv([("bulk@example.com", "Bulky", "Person", "+48 601 000 001")])
    job = await run_import(api, content, MAPPING)
    assert job["updated_count"] == 1
    update = (await outbox_events(owner_engine, tenant))[-1]
    assert update["type"] == "crm.contact.updated"
    assert update["data"]["changed"] == ["first_name"]
    assert update["data"]["contact"]["first_name"] == "Bulky"
    assert update["data"]["contact"]["version"] == 2
    person = (await api.get(f"/v1/people/{bulk['data']['contact_id']}")).json()
    assert (person["first_name"], person["version"]) == ("Bulky", 2)


async def test_a_row_repeating_an_earlier_one_updates_what_it_created(
    api: httpx.AsyncClient,
) -> None:
    content = people_csv(
        [
            ("ann@example.com", "Ann", "First", ""),
            ("ann@example.com", "Anne", "", ""),  # same person again: an update, as row by row
            ("bob@example.com", "Bob", "", ""),
        ]
    )
    job = await run_import(api, content, MAPPING)
    assert (job["created_count"], job["updated_count"], job["error_count"]) == (2, 1, 0)
    people = (await api.get("/v1/people", params={"q": "ann@example.com"})).json()["items"]
    assert [(p["first_name"], p["last_name"], p["version"]) for p in people] == [
        ("Anne", "First", 2)
    ]


async def test_rows_claiming_the_same_external_id_keep_the_first(api: httpx.AsyncClient) -> None:
    content = b"mail,ext\na@example.com,X-1\nb@example.com,X-1\n"
    job = await run_import(api, content, {"mail": "email", "ext": "external_id"})
    assert (job["created_count"], job["error_count"]) == (1, 1)
    report = (await api.get(f"/v1/imports/{job['id']}/errors")).text
    assert "2,/external_id,The external id X-1 is already in row 1 of this file." in report


async def test_broken_rows_are_reported_and_the_others_imported(api: httpx.AsyncClient) -> None:
    content = (
        b"mail,first\n"
        b"ok1@example.com,One\n"
        b"ok2@example.com,Two,unexpected\n"  # a cell too many
        b"ok3@example.com,\xff\xfe\n"  # not UTF-8
        b'ok4@example.com,"Four, with a comma"\n'
    )
    job = await run_import(api, content, {"mail": "email", "first": "first_name"})
    assert (job["created_count"], job["error_count"], job["rows_done"]) == (2, 2, 4)
    report = list(
        csv.DictReader(io.StringIO((await api.get(f"/v1/imports/{job['id']}/errors")).text))
    )
    assert [(r["row"], r["detail"]) for r in report] == [
        ("2", "the row has 3 cells, the header 2"),
        ("3", "the row is not valid UTF-8"),
    ]
    names = {p["first_name"] for p in (await api.get("/v1/people")).json()["items"]}
    assert names == {"One", "Four, with a comma"}


async def test_field_rules_match_the_api(api: httpx.AsyncClient) -> None:
    await api.post(
        "/v1/custom-fields",
        json={"entity": "person", "key": "score", "label": "Score", "type": "number"},
    )
    await api.post(
        "/v1/custom-fields",
        json={
            "entity": "person",
            "key": "region",
            "label": "Region",
            "type": "text",
            "required": True,
        },
    )
    content = (
        b"mail,tz,lang,score,region\n"
        b"a@example.com,Europe/Warsaw,pl,12.5,North\n"
        b"b@example.com,Mars/Olympus,pl,1,North\n"
        b"c@example.com,Europe/Warsaw,p0lish,1,North\n"
        b"d@example.com,Europe/Warsaw,pl,lots,North\n"
        b"e@example.com,Europe/Warsaw,pl,3,\n"
    )
    mapping = {
        "mail": "email",
        "tz": "timezone",
        "lang": "language",
        "score": "attr.score",
        "region": "attr.region",
    }
    job = await run_import(api, content, mapping)
    assert (job["created_count"], job["error_count"]) == (1, 4)
    report = list(
        csv.DictReader(io.StringIO((await api.get(f"/v1/imports/{job['id']}/errors")).text))
    )
    assert [(r["row"], r["pointer"]) for r in report] == [
        ("2", "/timezone"),
        ("3", "/language"),
        ("4", "/attributes/score"),
        ("5", "/attributes/region"),
    ]
    person = (await api.get("/v1/people", params={"q": "a@example.com"})).json()["items"][0]
    assert person["attributes"] == {"score": 12.5, "region": "North"}
    assert person["timezone"] == "Europe/Warsaw"


async def test_imported_people_reach_the_change_feed_once(api: httpx.AsyncClient) -> None:
    content = people_csv([(f"feed{i}@example.com", f"Feed{i}", "", "") for i in range(30)])
    job = await run_import(api, content, MAPPING)
    seen, token = await drain_until(api, None, lambda s: len(s) >= 30)
    assert len(seen) == 30 and all(c["op"] == "upsert" for c in seen.values())

    again = await run_import(api, content, MAPPING)
    assert again["unchanged_count"] == 30 and job["created_count"] == 30
    response = await api.get("/v1/sync/changes", params={"since": token})
    assert response.json()["changes"] == []  # a re-run changes nothing, not even the feed


async def test_progress_is_committed_per_chunk(
    api: httpx.AsyncClient, contacts_app: FastAPI
) -> None:
    settings = contacts_app.state.settings
    contacts_app.state.settings = settings.model_copy(update={"import_chunk_rows": 7})
    try:
        content = people_csv([(f"chunk{i}@example.com", "C", "", "") for i in range(30)])
        job = await run_import(api, content, MAPPING)
    finally:
        contacts_app.state.settings = settings
    assert (job["total_rows"], job["rows_done"], job["created_count"]) == (30, 30, 30)
    assert job["status"] == "done"


EMAILS = [
    "plain@example.com",
    "Mixed.Case+tag@Example.COM",
    "a_b-c@sub.domain.co.uk",
    "x@localhost",
    "x@host.local",
    "x@name.test",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@exa--mple.com",
    "a@example.c",
    "a@example.123",
    "a@example",
    "ąę@example.com",
    "a@bücher.de",
    '"quoted"@example.com',
    "a@[127.0.0.1]",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 60] * 5) + ".com",
    "user@xn--bcher-kva.de",
    "a!b#c$d%e@example.com",
]


@pytest.mark.parametrize("value", EMAILS)
def test_the_email_fast_path_agrees_with_the_api(value: str) -> None:
    try:
        expected: str | None = normalize_email(value)
    except ValueError:
        expected = None
    try:
        got: str | None = cells.email(value)
    except ValueError:
        got = None
    assert got == expected


async def test_a_killed_import_resumes_after_its_last_chunk(
    contacts_app: FastAPI,
    client_for: Any,
    owner_engine: AsyncEngine,
    tenant: str,
    tmp_path: Path,
) -> None:
    api = client_for(tenant)
    rows = 3000
    source = tmp_path / "people.csv"
    source.write_bytes(people_csv([(f"r{i}@example.com", f"R{i}", "", "") for i in range(rows)]))
    sessionmaker = contacts_app.state.sessionmaker
    uow = UnitOfWork(sessionmaker, tenant_id=tenant, actor="test", source="test")
    settings = contacts_app.state.settings
    async with uow:
        job_id = (await service.create_job(uow, "email", MAPPING)).id
        await runner.enqueue(uow, job_id, uuid.uuid4(), 0.0)  # an expired lease: a worker's
    runner.upload_path(settings, job_id).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, runner.upload_path(settings, job_id))

    worker = start_worker(contacts_app, chunk_rows=50, lease_s=1)
    try:
        job = await wait_for(api, job_id, lambda j: j["rows_done"] >= 200)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    killed_at = (await api.get(f"/v1/imports/{job_id}")).json()
    assert killed_at["status"] == "running", killed_at
    assert 0 < killed_at["rows_done"] < rows and killed_at["rows_done"] % 50 == 0, killed_at

    stopping = asyncio.Event()
    resumed = asyncio.create_task(
        runner.resume_job(contacts_app.state.settings, sessionmaker, stopping)
    )
    try:
        job = await wait_for(api, job_id, lambda j: j["status"] != "running", timeout=120)
    finally:
        stopping.set()
        await resumed
    assert job["status"] == "done", job
    assert (job["rows_done"], job["created_count"], job["error_count"]) == (rows, rows, 0)
    assert await count_rows(owner_engine, "people", tenant) == rows
    created = [
        e for e in await outbox_events(owner_engine, tenant) if e["type"].endswith("created")
    ]
    assert len(created) == len({e["key"] for e in created}) == rows, len(created)


def start_worker(app: FastAPI, chunk_rows: int, lease_s: float) -> subprocess.Popen[bytes]:
    """The worker's resume loop in a process of its own (so that it can be killed)."""
    settings = app.state.settings
    env = os.environ | {
        "CONTACTS_DATABASE_URL": settings.database_url,
        "CONTACTS_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "CONTACTS_IMPORT_CHUNK_ROWS": str(chunk_rows),
        "CONTACTS_IMPORT_LEASE_S": str(lease_s),
    }
    code = (
        "import asyncio\n"
        "from crm_contacts.imports.runner import resume_job\n"
        "from crm_shared.db import create_engine, create_sessionmaker\n"
        "from crm_shared.service import get_service\n"
        "settings = get_service('contacts').settings()\n"
        "async def main():\n"
        "    sessions = create_sessionmaker(create_engine(settings))\n"
        "    await resume_job(settings, sessions, asyncio.Event())\n"
        "asyncio.run(main())\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env)


async def wait_for(
    api: httpx.AsyncClient, job_id: uuid.UUID, done: Any, timeout: float = 60
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job: dict[str, Any] = (await api.get(f"/v1/imports/{job_id}")).json()
        if done(job):
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"import did not get there: {job}")
        await asyncio.sleep(0.02)
