"""CSV import of people as a background job.

The upload is streamed to a file, then a task reads it row by row (memory stays flat) and
upserts each row through the same schemas and service functions as the API: PersonCreate /
PersonUpdate validation, the uniqueness checks and the unique indexes, custom field checks,
events. Rows are applied in batches, one transaction per batch and a savepoint per row, so a
bad row is recorded in the error report and never aborts the good ones; the job's progress is
committed with each batch. A row that matches a person (by email or external id) and carries
nothing new changes nothing, so re-running a file is a no-op.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_contacts.custom_fields.service import definitions
from crm_contacts.custom_fields.values import parse_query_value
from crm_contacts.imports.models import ImportError_, ImportJob
from crm_contacts.imports.schemas import TARGETS
from crm_contacts.people import service as people
from crm_contacts.people.models import Person, PersonEmail
from crm_contacts.people.schemas import PersonCreate, PersonUpdate
from crm_shared.errors import NotFound, Problem, ValidationFailed
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
BATCH = 200
LIST_SEP = ";"
UPLOADS = Path(tempfile.gettempdir()) / "crm-contacts-imports"
_tasks: set[asyncio.Task[None]] = set()


def check_mapping(mapping: dict[str, str], match_on: str) -> None:
    errors = [
        {"pointer": f"/mapping/{column}", "in": "query", "detail": f"unknown field {target}"}
        for column, target in mapping.items()
        if target not in TARGETS and not target.startswith("attr.")
    ]
    targets = set(mapping.values())
    if match_on == "email" and not targets & {"email", "emails"}:
        errors.append({"pointer": "/mapping", "in": "query", "detail": "no column maps to email"})
    if match_on == "external_id" and "external_id" not in targets:
        errors.append(
            {"pointer": "/mapping", "in": "query", "detail": "no column maps to external_id"}
        )
    if errors:
        raise ValidationFailed("The column mapping is not valid.", errors=errors)


async def save_upload(chunks: AsyncIterator[bytes], job_id: uuid.UUID) -> Path:
    """The request body, streamed to disk (never held in memory)."""
    await asyncio.to_thread(UPLOADS.mkdir, parents=True, exist_ok=True)
    path = UPLOADS / f"{job_id}.csv"
    out = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in chunks:
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return path


def start(
    sessionmaker: async_sessionmaker[AsyncSession],
    uow: UnitOfWork,
    job_id: uuid.UUID,
    path: Path,
) -> None:
    worker = UnitOfWork(sessionmaker, tenant_id=uow.tenant_id, actor=uow.actor, source=uow.source)
    task = asyncio.create_task(run(worker, job_id, path))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        yield from csv.DictReader(handle)


def _count(path: Path) -> int:
    return sum(1 for _ in _rows(path))


async def run(uow: UnitOfWork, job_id: uuid.UUID, path: Path) -> None:
    try:
        total = await asyncio.to_thread(_count, path)
        async with uow:
            job = await _job(uow, job_id)
            job.status, job.total_rows = "running", total
            mapping, match_on = dict(job.mapping), job.match_on
            fields = {f.key: f for f in await definitions(uow, "person")}
        rows = _rows(path)
        number = 0
        while True:
            batch = await asyncio.to_thread(_take, rows, BATCH)
            if not batch:
                break
            async with uow:
                job = await _job(uow, job_id)
                for raw in batch:
                    number += 1
                    outcome = await _apply_row(uow, raw, mapping, match_on, fields, number, job)
                    if outcome == "error":
                        job.error_count += 1
                    else:
                        setattr(job, f"{outcome}_count", getattr(job, f"{outcome}_count") + 1)
                    job.rows_done += 1
        async with uow:
            job = await _job(uow, job_id)
            job.status, job.finished_at = "done", datetime.now(UTC)
    except Exception as exc:  # the job records why it stopped; nothing is left half-reported
        log.exception("import %s failed", job_id)
        async with uow:
            job = await _job(uow, job_id)
            job.status, job.finished_at = "failed", datetime.now(UTC)
            job.failure = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        await asyncio.to_thread(path.unlink, True)


def _take(rows: Iterator[dict[str, str]], n: int) -> list[dict[str, str]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == n:
            break
    return batch


async def _job(uow: UnitOfWork, job_id: uuid.UUID) -> ImportJob:
    job = await uow.session.get(ImportJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"No import {job_id}.")
    return job


def _body(raw: dict[str, str], mapping: dict[str, str], fields: dict[str, Any]) -> dict[str, Any]:
    """A row as the API's request body: only the non-empty mapped cells."""
    body: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for column, target in mapping.items():
        value = (raw.get(column) or "").strip()
        if not value:
            continue
        if target.startswith("attr."):
            key = target.removeprefix("attr.")
            field = fields.get(key)
            attributes[key] = (
                parse_query_value(field.type, field.options, value) if field else value
            )
        elif target == "email":
            body["emails"] = [{"email": value}]
        elif target == "emails":
            body["emails"] = [{"email": e.strip()} for e in value.split(LIST_SEP) if e.strip()]
        elif target == "phones":
            body["phones"] = [{"number": p.strip()} for p in value.split(LIST_SEP) if p.strip()]
        elif target == "tags":
            body["tags"] = [t.strip() for t in value.split(LIST_SEP) if t.strip()]
        else:
            body[target] = value
    if attributes:
        body["attributes"] = attributes
    return body


async def _match(uow: UnitOfWork, data: PersonCreate, match_on: str) -> Person | None:
    if match_on == "external_id":
        if not data.external_id:
            raise ValidationFailed(
                "No external id.", errors=[{"pointer": "/external_id", "detail": "required"}]
            )
        query = select(Person).where(Person.external_id == data.external_id)
    else:
        if not data.emails:
            raise ValidationFailed(
                "No email.", errors=[{"pointer": "/emails", "detail": "required to match"}]
            )
        query = (
            select(Person)
            .join(PersonEmail, PersonEmail.person_id == Person.id)
            .where(PersonEmail.email.in_([e.email for e in data.emails]))
        )
    return await uow.session.scalar(query.where(Person.deleted_at.is_(None)).limit(1))


async def _apply_row(
    uow: UnitOfWork,
    raw: dict[str, str],
    mapping: dict[str, str],
    match_on: str,
    fields: dict[str, Any],
    number: int,
    job: ImportJob,
) -> str:
    try:
        async with uow.session.begin_nested():
            body = _body(raw, mapping, fields)
            data = PersonCreate.model_validate(body)
            existing = await _match(uow, data, match_on)
            if existing is None:
                await people.create_person(uow, data)
                return "created"
            if existing.attributes and "attributes" in body:
                # a file carries some attributes: keep the others the person already has
                body["attributes"] = dict(existing.attributes) | body["attributes"]
            update = PersonUpdate.model_validate(body)
            before = existing.version
            person = await people.update_person(
                uow, existing.id, update, expected_version=existing.version
            )
            return "updated" if person.version != before else "unchanged"
    except (
        ValidationError,
        ValueError,
        Problem,
        IntegrityError,
        asyncpg.IntegrityConstraintViolationError,
    ) as exc:
        uow.session.add(
            ImportError_(
                tenant_id=uow.tenant_id, job_id=job.id, row_number=number, errors=_errors(exc)
            )
        )
        return "error"


def _errors(exc: Exception) -> list[dict[str, Any]]:
    if isinstance(exc, ValidationError):
        return [
            {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
            for e in exc.errors()
        ]
    if isinstance(exc, Problem):
        return list(exc.errors) or [{"pointer": "", "detail": exc.detail}]
    if isinstance(exc, IntegrityError | asyncpg.IntegrityConstraintViolationError):
        return [{"pointer": "", "detail": "conflicts with an existing record"}]
    return [{"pointer": "", "detail": str(exc)}]


async def create_job(uow: UnitOfWork, match_on: str, mapping: dict[str, str]) -> ImportJob:
    job = ImportJob(
        tenant_id=uow.tenant_id,
        entity="person",
        match_on=match_on,
        mapping=mapping,
        status="queued",
        rows_done=0,
        created_count=0,
        updated_count=0,
        unchanged_count=0,
        error_count=0,
        actor=uow.actor,
    )
    uow.session.add(job)
    await uow.session.flush()
    return job


async def get_job(uow: UnitOfWork, job_id: uuid.UUID) -> ImportJob:
    job = await uow.session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"No import {job_id}.")
    return job


async def error_rows(uow: UnitOfWork, job_id: uuid.UUID) -> list[ImportError_]:
    query = (
        select(ImportError_).where(ImportError_.job_id == job_id).order_by(ImportError_.row_number)
    )
    return list((await uow.session.scalars(query)).all())
