"""CSV import of companies as a job: the API's schemas, service and events, row by row."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_contacts.companies import service as company_service
from crm_contacts.database import ensure_external_id_free
from crm_contacts.imports import runner, service
from crm_shared.uow import UnitOfWork
from tests import helpers
from tests.helpers import create_company, outbox_events

MAPPING = {
    "Name": "name",
    "Web": "domain",
    "Ref": "external_id",
    "Parent": "parent_external_id",
    "Staff": "employee_count",
    "Country": "country",
    "Tags": "tags",
}


def csv_file(rows: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or list(MAPPING), restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def run_import(
    api: httpx.AsyncClient,
    content: bytes,
    mapping: dict[str, str] = MAPPING,
    match_on: str = "external_id",
) -> dict[str, Any]:
    return await helpers.run_import(api, content, mapping, match_on=match_on, entity="company")


async def companies(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await api.get("/v1/companies", params={"limit": "200"} | params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def report(api: httpx.AsyncClient, job: dict[str, Any]) -> list[dict[str, str]]:
    response = await api.get(f"/v1/imports/{job['id']}/errors")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def rows_with_bad_ones(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        row = {
            "Name": f"Firm {i}",
            "Web": f"firm{i}.example",
            "Ref": f"erp-{i}",
            "Staff": str(10 + i),
            "Country": "PL",
            "Tags": "b2b; retail",
        }
        if i % 20 == 3:
            row["Country"] = "Poland"  # every tenth row is bad, in two ways
        elif i % 20 == 13:
            row["Staff"] = "many"
        rows.append(row)
    return rows


async def test_import_creates_reports_bad_rows_and_a_rerun_changes_nothing(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    content = csv_file(rows_with_bad_ones(50))
    job = await run_import(api, content)
    assert job["status"] == "done", job
    assert (job["entity"], job["total_rows"], job["rows_done"]) == ("company", 50, 50)
    assert (job["created_count"], job["error_count"]) == (45, 5)

    errors = await report(api, job)
    assert sorted(int(e["row"]) for e in errors) == [i + 1 for i in range(50) if i % 10 == 3]
    assert {e["pointer"] for e in errors} == {"/country", "/employee_count"}

    stored = await companies(api)
    assert len(stored) == 45
    first = next(c for c in stored if c["external_id"] == "erp-0")
    assert (first["name"], first["domain"], first["employee_count"]) == (
        "Firm 0",
        "firm0.example",
        10,
    )
    assert first["tags"] == ["b2b", "retail"]
    events = await outbox_events(owner_engine, tenant)
    created = [e for e in events if e["type"] == "crm.company.created"]
    assert len(created) == 45  # the API's events, one per company, none for rejected rows
    assert created[0]["data"]["company"]["external_id"].startswith("erp-")

    again = await run_import(api, content)
    assert (again["created_count"], again["updated_count"]) == (0, 0)
    assert (again["unchanged_count"], again["error_count"]) == (45, 5)
    assert len(await outbox_events(owner_engine, tenant)) == len(events)  # nothing happened


async def test_import_updates_by_external_id_and_by_domain(
    api: httpx.AsyncClient, owner_engine: AsyncEngine, tenant: str
) -> None:
    by_ref = await create_company(api, name="Old name", external_id="erp-1", industry="retail")
    by_domain = await create_company(api, name="Acme", domain="Acme.Example")
    assert by_domain["domain"] == "acme.example"  # domains are case-insensitive: stored lower

    job = await run_import(api, csv_file([{"Name": "New name", "Ref": "erp-1", "Staff": "12"}]))
    assert (job["updated_count"], job["created_count"], job["error_count"]) == (1, 0, 0)
    updated = (await api.get(f"/v1/companies/{by_ref['id']}")).json()
    assert (updated["name"], updated["employee_count"]) == ("New name", 12)
    assert updated["industry"] == "retail"  # an unmapped or empty cell leaves the field alone

    mapping = {"Web": "domain", "Ref": "external_id", "Country": "country"}
    content = b"Web,Ref,Country\nACME.example,acme-1,DE\nnew.example,,FR\n"
    job = await run_import(api, content, mapping, match_on="domain")
    assert (job["updated_count"], job["created_count"], job["error_count"]) == (1, 0, 1)
    acme = (await api.get(f"/v1/companies/{by_domain['id']}")).json()
    assert (acme["external_id"], acme["country"], acme["name"]) == ("acme-1", "DE", "Acme")
    assert [e["pointer"] for e in await report(api, job)] == ["/name"]  # a new one needs a name

    updated_events = [
        e for e in await outbox_events(owner_engine, tenant) if e["type"] == "crm.company.updated"
    ]
    assert len(updated_events) == 2


async def test_a_domain_of_several_companies_is_a_row_error(api: httpx.AsyncClient) -> None:
    for name in ("Twin A", "Twin B"):
        await create_company(api, name=name, domain="twins.example")
    content = b"Web,Name\ntwins.example,Which one\nsolo.example,Solo\n"
    job = await run_import(api, content, {"Web": "domain", "Name": "name"}, match_on="domain")
    assert (job["created_count"], job["updated_count"], job["error_count"]) == (1, 0, 1)
    assert await report(api, job) == [
        {"row": "1", "pointer": "/domain", "detail": "several companies have this domain"}
    ]
    names = sorted(c["name"] for c in await companies(api, q="twins"))
    assert names == ["Twin A", "Twin B"]  # neither was guessed at


async def test_parent_by_external_id_earlier_in_the_file_or_stored(api: httpx.AsyncClient) -> None:
    stored = await create_company(api, name="Holding", external_id="h-1")
    content = csv_file(
        [
            {"Name": "Group", "Ref": "g-1", "Parent": "h-1"},  # parent already stored
            {"Name": "Daughter", "Ref": "d-1", "Parent": "g-1"},  # parent from the row above
            {"Name": "Orphan", "Ref": "o-1", "Parent": "nobody"},
        ]
    )
    job = await run_import(api, content)
    assert (job["created_count"], job["error_count"]) == (2, 1)
    assert await report(api, job) == [
        {
            "row": "3",
            "pointer": "/parent_external_id",
            "detail": "no company has the external id nobody",
        }
    ]
    daughter = (await companies(api, external_id="d-1"))[0]
    ancestors = (await api.get(f"/v1/companies/{daughter['id']}/ancestors")).json()
    assert [a["name"] for a in ancestors] == ["Group", "Holding"]
    assert ancestors[1]["id"] == stored["id"]


async def test_custom_fields_are_checked_on_import_as_on_the_api(api: httpx.AsyncClient) -> None:
    for body in (
        {"key": "size", "label": "Size", "type": "select", "options": ["S", "M", "L"]},
        {"key": "score", "label": "Score", "type": "number"},
    ):
        response = await api.post("/v1/custom-fields", json={"entity": "company"} | body)
        assert response.status_code == 201, response.text
    on_api = await api.post("/v1/companies", json={"name": "X", "attributes": {"size": "XL"}})
    assert on_api.status_code == 422
    api_error = on_api.json()["errors"][0]

    mapping = {"Name": "name", "Ref": "external_id", "Size": "attr.size", "Score": "attr.score"}
    content = b"Name,Ref,Size,Score\nGood,c-1,M,4.5\nBad,c-2,XL,1\nWorse,c-3,S,lots\n"
    job = await run_import(api, content, mapping)
    assert (job["created_count"], job["error_count"]) == (1, 2)
    errors = await report(api, job)
    assert errors[0] == {"row": "2", "pointer": api_error["pointer"], "detail": api_error["detail"]}
    assert errors[1] == {"row": "3", "pointer": "/attributes/score", "detail": "expected a number"}
    good = (await companies(api, external_id="c-1"))[0]
    assert good["attributes"] == {"size": "M", "score": 4.5}


async def test_external_id_is_unique_on_the_api_and_on_import(api: httpx.AsyncClient) -> None:
    holder = await create_company(api, name="First", external_id="dup-1")
    clash = await api.post("/v1/companies", json={"name": "Second", "external_id": "dup-1"})
    assert clash.status_code == 409
    assert clash.json()["conflicting_id"] == holder["id"]
    other = await create_company(api, name="Other", external_id="dup-2")
    patched = await api.patch(
        f"/v1/companies/{other['id']}",
        json={"external_id": "dup-1"},
        headers={"If-Match": f'"{other["version"]}"'},
    )
    assert patched.status_code == 409 and patched.json()["field"] == "external_id"

    mapping = {"Web": "domain", "Ref": "external_id"}
    await create_company(api, name="Third", domain="third.example")
    content = b"Web,Ref\nthird.example,dup-1\n"
    job = await run_import(api, content, mapping, match_on="domain")
    assert (job["updated_count"], job["error_count"]) == (0, 1)
    assert await report(api, job) == [
        {
            "row": "1",
            "pointer": "/external_id",
            "detail": "The external id dup-1 belongs to another company.",
        }
    ]
    assert [c["name"] for c in await companies(api, external_id="dup-1")] == ["First"]


async def test_a_company_mapping_is_checked_before_anything_runs(api: httpx.AsyncClient) -> None:
    cases = [
        ({"Mail": "email"}, "external_id", "/mapping/Mail"),  # a person's field
        ({"Name": "name"}, "external_id", "/mapping"),  # nothing to match on
        ({"Web": "domain"}, "email", "/match_on"),  # companies have no email
    ]
    for mapping, match_on, pointer in cases:
        response = await api.post(
            "/v1/imports",
            params={"mapping": json.dumps(mapping), "match_on": match_on, "entity": "company"},
            content=b"x\n1\n",
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == pointer
    assert (await api.get("/v1/imports/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_company_export_carries_the_external_id(api: httpx.AsyncClient) -> None:
    await create_company(api, name="Exported", external_id="exp-1")
    response = await api.get("/v1/companies/export", params={"format": "csv"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["name"], r["external_id"]) for r in rows] == [("Exported", "exp-1")]


async def test_a_clash_the_check_missed_is_retried_and_reported(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent writer can take an external id between the API's check and the INSERT:
    the unique constraint refuses the row, which is re-run, now meets the check, and is
    reported; the rows after it still go in."""
    await create_company(api, name="Holder", external_id="race-1")
    check = ensure_external_id_free
    missed: list[str] = []

    async def misses_once(uow: Any, model: Any, external_id: str | None, *args: Any) -> None:
        if external_id == "race-1" and not missed:
            missed.append(external_id)  # as if the holder committed just after this check
            return
        await check(uow, model, external_id, *args)

    monkeypatch.setattr(company_service, "ensure_external_id_free", misses_once)
    content = csv_file(
        [
            {"Name": "Late", "Web": "late.example", "Ref": "race-1"},
            {"Name": "Next", "Web": "next.example", "Ref": "race-2"},
        ]
    )
    job = await run_import(api, content, match_on="domain")
    assert job["status"] == "done", job
    assert missed == ["race-1"]
    assert (job["created_count"], job["error_count"]) == (1, 1)
    assert (await report(api, job))[0]["pointer"] == "/external_id"
    assert [c["name"] for c in await companies(api, external_id="race-2")] == ["Next"]


async def test_a_company_job_left_behind_is_finished_by_the_worker(
    api: httpx.AsyncClient, contacts_app: FastAPI, tenant: str
) -> None:
    settings = contacts_app.state.settings
    sessionmaker = contacts_app.state.sessionmaker
    uow = UnitOfWork(sessionmaker, tenant_id=tenant, actor="test", source="test")
    async with uow:
        job_id = (await service.create_job(uow, "external_id", MAPPING, "company")).id
        await runner.enqueue(uow, job_id, uuid.uuid4(), 0.0)  # its process is gone
    path = runner.upload_path(settings, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_file([{"Name": f"Left {i}", "Ref": f"left-{i}"} for i in range(7)]))

    stopping = asyncio.Event()
    worker = asyncio.create_task(runner.resume_job(settings, sessionmaker, stopping))
    try:
        for _ in range(200):
            job = (await api.get(f"/v1/imports/{job_id}")).json()
            if job["status"] == "done":
                break
            await asyncio.sleep(0.05)
    finally:
        stopping.set()
        await worker
    assert (job["entity"], job["created_count"], job["rows_done"]) == ("company", 7, 7)
    assert len(await companies(api, q="Left")) == 7
