"""CSV import of people or companies as a background job: the API's side (create, upload,
read).

The upload is streamed to a file; the job then runs chunk by chunk by the API's own rules
(runner.py: people set-based with people.py, companies row by row with companies.py), and
resumes after its last committed chunk if the process running it stops.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_contacts.imports import companies, runner
from crm_contacts.imports.models import ImportError_, ImportJob
from crm_contacts.imports.schemas import TARGETS
from crm_contacts.settings import ContactsSettings
from crm_shared.errors import NotFound, ValidationFailed
from crm_shared.uow import UnitOfWork

# What each entity's rows may match on, its default first; and the fields they may fill.
MATCH_ON = {"person": ("email", "external_id"), "company": companies.MATCH_ON}
FIELDS = {"person": TARGETS, "company": companies.TARGETS}


def check_mapping(mapping: dict[str, str], match_on: str, entity: str = "person") -> None:
    if match_on not in MATCH_ON[entity]:
        raise ValidationFailed(
            f"A {entity} import cannot match on {match_on}.",
            errors=[
                {
                    "pointer": "/match_on",
                    "in": "query",
                    "detail": f"a {entity} import matches on {' or '.join(MATCH_ON[entity])}",
                }
            ],
        )
    errors = [
        {"pointer": f"/mapping/{column}", "in": "query", "detail": f"unknown field {target}"}
        for column, target in mapping.items()
        if target not in FIELDS[entity] and not target.startswith("attr.")
    ]
    errors += [
        {"pointer": "/mapping", "in": "query", "detail": f"several columns map to {target}"}
        for target, n in Counter(mapping.values()).items()
        if n > 1
    ]
    targets = set(mapping.values())
    if {"email", "emails"} <= targets:
        errors.append(
            {"pointer": "/mapping", "in": "query", "detail": "map email or emails, not both"}
        )
    if match_on == "email" and not targets & {"email", "emails"}:
        errors.append({"pointer": "/mapping", "in": "query", "detail": "no column maps to email"})
    if match_on in ("external_id", "domain") and match_on not in targets:
        errors.append(
            {"pointer": "/mapping", "in": "query", "detail": f"no column maps to {match_on}"}
        )
    if errors:
        raise ValidationFailed("The column mapping is not valid.", errors=errors)


async def save_upload(
    chunks: AsyncIterator[bytes], settings: ContactsSettings, job_id: uuid.UUID
) -> Path:
    """The request body, streamed to disk (never held in memory)."""
    path = runner.upload_path(settings, job_id)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    out = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in chunks:
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return path


async def abandon(uow: UnitOfWork, settings: ContactsSettings, job_id: uuid.UUID, why: str) -> None:
    """The job failed before it could start (its upload did not arrive whole)."""
    async with uow:
        job = await get_job(uow, job_id)
        job.status, job.failure, job.finished_at = "failed", why, datetime.now(UTC)
    await asyncio.to_thread(runner.upload_path(settings, job_id).unlink, missing_ok=True)


async def queue(
    sessionmaker: async_sessionmaker[AsyncSession],
    uow: UnitOfWork,
    job_id: uuid.UUID,
    settings: ContactsSettings,
) -> None:
    """Lease the job to this process and run it here; a worker takes it over if this
    process stops before the end."""
    owner = uuid.uuid4()
    async with uow:
        await runner.enqueue(uow, job_id, owner, settings.import_lease_s)
    worker = UnitOfWork(
        sessionmaker,
        tenant_id=uow.tenant_id,
        actor=uow.actor,
        source=uow.source,
        traceparent=uow.traceparent,
    )
    runner.start(worker, job_id, owner, settings)


async def create_job(
    uow: UnitOfWork, match_on: str, mapping: dict[str, str], entity: str = "person"
) -> ImportJob:
    job = ImportJob(
        tenant_id=uow.tenant_id,
        entity=entity,
        match_on=match_on,
        mapping=mapping,
        status="queued",
        rows_done=0,
        created_count=0,
        updated_count=0,
        unchanged_count=0,
        error_count=0,
        byte_offset=0,
        chunks_done=0,
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


async def error_rows(
    uow: UnitOfWork, job_id: uuid.UUID, page: int = 5_000
) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
    """A job's rejected rows in file order, a page per transaction (memory stays flat)."""
    after = 0
    while True:
        async with uow:
            query = (
                select(ImportError_.row_number, ImportError_.errors)
                .where(ImportError_.job_id == job_id, ImportError_.row_number > after)
                .order_by(ImportError_.row_number)
                .limit(page)
            )
            rows = (await uow.session.execute(query)).all()
        for number, errors in rows:
            yield number, errors
        if len(rows) < page:
            return
        after = rows[-1].row_number
