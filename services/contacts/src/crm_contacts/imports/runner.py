"""Running an import job: chunk after chunk, one transaction each, resumable.

Whoever runs a job holds its lease in `import_queue` (the API process right after the
upload; a worker for a job whose lease expired, e.g. because the process running it was
killed). Each chunk's transaction renews the lease (and fails if another process took the
job over), applies the chunk, records the rejected rows, and moves the job's
progress and its byte offset to the end of the chunk: a job resumes exactly after its last
committed chunk and no row is applied twice.

What a chunk's transaction does with the rows depends on the entity: people set-based
(PeopleChunks below, with people.py), companies row by row through the API's service
(companies.py). While the database works on a chunk, a thread reads the next one and runs
the Python-only work on it (for people the checks of cells.py), so both CPUs have work.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_contacts.custom_fields.service import definitions
from crm_contacts.imports import companies, people, reader
from crm_contacts.imports.cells import Verdict
from crm_contacts.imports.models import ImportJob
from crm_contacts.imports.outcome import RECORD_ERROR, Totals
from crm_contacts.settings import ContactsSettings
from crm_shared.settings import ServiceSettings, settings_of
from crm_shared.uow import UnitOfWork, savepoint

log = logging.getLogger(__name__)
POLL_S = 2.0
RACE_RETRIES = 3
_tasks: set[asyncio.Task[None]] = set()


class LeaseLost(RuntimeError):
    """Another process took the job over (this one was too slow to renew its lease)."""


def upload_path(settings: ContactsSettings, job_id: uuid.UUID) -> Path:
    return settings.import_dir / f"{job_id}.csv"


ENQUEUE = """
    INSERT INTO import_queue (job_id, tenant_id, lease_owner, lease_until)
    VALUES ($1, $2, $3, now() + make_interval(secs => $4))
"""
CLAIM = """
    UPDATE import_queue SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
    WHERE job_id = (SELECT job_id FROM import_queue
                    WHERE lease_until IS NULL OR lease_until < now()
                    ORDER BY job_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING job_id, tenant_id
"""
RENEW = """
    UPDATE import_queue SET lease_until = now() + make_interval(secs => $3)
    WHERE job_id = $1 AND lease_owner = $2
"""
DONE = "DELETE FROM import_queue WHERE job_id = $1 AND lease_owner = $2"


async def enqueue(uow: UnitOfWork, job_id: uuid.UUID, owner: uuid.UUID, lease_s: float) -> None:
    """Queue the job, leased to `owner` (the process that will run it at once)."""
    await (await uow.driver()).execute(ENQUEUE, job_id, uow.tenant_id, owner, lease_s)


def start(
    worker: UnitOfWork, job_id: uuid.UUID, owner: uuid.UUID, settings: ContactsSettings
) -> None:
    """Run the job in this process, in the background."""
    task = asyncio.create_task(run(worker, job_id, owner, settings))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


class Chunks(Protocol):
    """One entity's way of applying a chunk; the loop around it (lease, progress, resume)
    is the runner's."""

    chunk_rows: int

    def prepare(self, chunk: reader.Chunk) -> Any:
        """Python-only work on the chunk, run in a thread while the previous one is applied."""

    async def apply(
        self, uow: UnitOfWork, chunk: reader.Chunk, prepared: Any, job_id: uuid.UUID, done: int
    ) -> Totals:
        """Apply the chunk (whose first row is row `done` + 1 of the file) in the unit of
        work's transaction, recording its rejected rows."""


async def run(
    uow: UnitOfWork, job_id: uuid.UUID, owner: uuid.UUID, settings: ContactsSettings
) -> None:
    path = upload_path(settings, job_id)
    try:
        plan, offset, done = await _begin(uow, job_id, path, settings)
        await _chunks(uow, job_id, owner, plan, path, offset, done, settings.import_lease_s)
        await _finish(uow, job_id, owner, "done", None)
    except LeaseLost:
        log.warning("import %s: lease lost, another process continues it", job_id)
        return
    except Exception as exc:  # the job records why it stopped
        log.exception("import %s failed", job_id)
        await _finish(uow, job_id, owner, "failed", f"{type(exc).__name__}: {exc}"[:500])
    with contextlib.suppress(FileNotFoundError):
        await asyncio.to_thread(path.unlink)


async def _begin(
    uow: UnitOfWork, job_id: uuid.UUID, path: Path, settings: ContactsSettings
) -> tuple[Chunks, int, int]:
    """The job's plan and where to (re)start: (plan, byte offset, rows already done)."""
    names, first = await asyncio.to_thread(reader.header, path)
    async with uow:
        job = await _job(uow, job_id)
        missing = [c for c in job.mapping if c not in names]
        if missing:
            raise reader.BadFile(f"columns not in the file: {', '.join(missing)}")
        if job.total_rows is None:
            job.total_rows = await asyncio.to_thread(reader.count_rows, path, first)
        job.status = "running"
        fields = await definitions(uow, job.entity)  # custom fields of people or companies
        plan: Chunks
        if job.entity == "company":
            plan = companies.CompanyChunks(
                header=names,
                mapping=dict(job.mapping),
                match_on=job.match_on,
                fields=fields,
                chunk_rows=settings.import_company_chunk_rows,
            )
        else:
            plan = PeopleChunks(
                people.PersonPlan(
                    header=names,
                    mapping=dict(job.mapping),
                    match_on=job.match_on,
                    fields=fields,
                    source=uow.source,
                    traceparent=uow.traceparent,
                ),
                chunk_rows=settings.import_chunk_rows,
            )
        return plan, job.byte_offset or first, job.rows_done


async def _chunks(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    owner: uuid.UUID,
    plan: Chunks,
    path: Path,
    offset: int,
    done: int,
    lease_s: float,
) -> None:
    chunks = reader.chunks(path, offset, plan.chunk_rows)
    upcoming = asyncio.ensure_future(asyncio.to_thread(_prepare, chunks, plan))
    while (prepared := await upcoming) is not None:
        upcoming = asyncio.ensure_future(asyncio.to_thread(_prepare, chunks, plan))
        chunk, work = prepared
        try:
            async with uow:
                conn = await uow.driver()
                if await conn.execute(RENEW, job_id, owner, lease_s) == "UPDATE 0":
                    raise LeaseLost(str(job_id))
                totals = await plan.apply(uow, chunk, work, job_id, done)
                await _record(uow, job_id, chunk, totals)
        except BaseException:
            upcoming.cancel()
            raise
        done += chunk.rows


def _prepare(chunks: Iterator[reader.Chunk], plan: Chunks) -> tuple[reader.Chunk, Any] | None:
    chunk = next(chunks, None)
    if chunk is None:
        return None
    return chunk, plan.prepare(chunk)


# --- people: set-based (people.py) ---------------------------------------------------------


@dataclass
class PeopleChunks:
    """A person import's chunks: a handful of set-based statements each (people.py)."""

    plan: people.PersonPlan
    chunk_rows: int
    chunks_done: int = field(default=0, init=False)

    def prepare(self, chunk: reader.Chunk) -> list[Verdict]:
        return self.plan.cells.verdicts(reader.parse(chunk.data))

    async def apply(
        self,
        uow: UnitOfWork,
        chunk: reader.Chunk,
        prepared: list[Verdict],
        job_id: uuid.UUID,
        done: int,
    ) -> Totals:
        conn = await uow.driver()
        if await _stale_statistics(conn, self.chunks_done):
            await conn.execute("SELECT import_analyze()")
        totals = await _apply(conn, self.plan, chunk, prepared, job_id, done)
        self.chunks_done += 1
        return totals


async def _stale_statistics(conn: Any, chunks_done: int) -> bool:
    """Whether the planner needs fresh statistics (see import_analyze): once the first chunk
    is in, and before it if the tables were empty when last analysed. From then on the
    planner scales the row density it knows by the tables' current size."""
    if chunks_done == 1:
        return True
    return chunks_done == 0 and bool(
        await conn.fetchval("SELECT reltuples <= 0 FROM pg_class WHERE oid = 'people'::regclass")
    )


async def _apply(
    conn: Any,
    plan: people.PersonPlan,
    chunk: reader.Chunk,
    verdicts: list[Verdict],
    job_id: uuid.UUID,
    done: int,
) -> Totals:
    # Bulk statements over fresh temporary tables: plan each with its actual values, and
    # give the planner statistics (ANALYZE) whenever a step changes what the next filters on.
    # No JIT: these statements look expensive to the planner, compiling them took ~1 s each
    # for ~50 ms of work.
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    await conn.execute("SET LOCAL jit = off")
    await conn.execute(plan.raw_table())
    rejected = await _load(conn, plan, chunk, job_id, done)
    await conn.execute(
        "CREATE TEMP TABLE import_cells (kind text, raw text, value text, error text, "
        "PRIMARY KEY (kind, raw)) ON COMMIT DROP"
    )
    await conn.copy_records_to_table("import_cells", records=verdicts)
    await conn.execute(plan.stage_sql(done))
    await conn.execute(ANALYZE_INPUT)
    await conn.execute(plan.checked_sql())
    await conn.execute("ALTER TABLE import_checked ADD PRIMARY KEY (row_number)")
    await conn.execute(people.ROUNDS.format(key=plan.key()))
    rounds = await conn.fetchval("SELECT coalesce(max(round), 0) FROM import_checked")
    for number in range(1, rounds + 1):
        await _round(conn, plan, number)
    await conn.execute(RECORD_ERRORS, job_id)
    row = await conn.fetchrow(OUTCOME_COUNTS)
    return Totals(row["created"], row["updated"], row["unchanged"], row["errors"] + rejected)


# Statistics of the columns the next statements filter and join on only (the others hold
# arrays and JSON, slow to analyse and never filtered on).
ANALYZE_INPUT = "ANALYZE import_cells (kind, raw), import_stage (row_number)"
ANALYZE_CHECKED = "ANALYZE import_checked (row_number, round, person_id, outcome)"
RECORD_ERRORS = """
    INSERT INTO import_errors (id, tenant_id, job_id, row_number, errors)
    SELECT new_uuid7(), current_setting('app.tenant_id'), $1, row_number, errors
    FROM import_checked WHERE errors <> '[]'
"""
OUTCOME_COUNTS = """
    SELECT count(*) FILTER (WHERE outcome = 'created') AS created,
           count(*) FILTER (WHERE outcome = 'updated') AS updated,
           count(*) FILTER (WHERE outcome = 'unchanged') AS unchanged,
           count(*) FILTER (WHERE errors <> '[]') AS errors
    FROM import_checked
"""


async def _load(
    conn: Any, plan: people.PersonPlan, chunk: reader.Chunk, job_id: uuid.UUID, done: int
) -> int:
    """COPY the chunk into `import_raw`. A chunk COPY refuses (a row with the wrong number of
    cells, bytes that are not UTF-8) is loaded row by row instead: the good rows, and a
    report for each bad one. Returns how many rows were refused."""
    try:
        async with savepoint(conn):  # a refused COPY leaves nothing behind
            await conn.copy_to_table(
                "import_raw",
                source=io.BytesIO(chunk.data),
                columns=plan.raw_columns,
                format="csv",
            )
        return 0
    except asyncpg.PostgresError:
        pass
    good, bad = reader.cells_by_record(chunk.data, len(plan.header))
    await conn.copy_records_to_table("import_raw", records=good, columns=["n", *plan.raw_columns])
    await conn.executemany(
        RECORD_ERROR,
        [(job_id, done + n, orjson.dumps([{"pointer": "", "detail": d}]).decode()) for n, d in bad],
    )
    return len(bad)


async def _round(conn: Any, plan: people.PersonPlan, number: int) -> None:
    """Match, check and write the rows of one round. A unique index that a concurrent writer
    made us violate rolls the round back; re-run, its checks now see the other write."""
    defaults, required, labels = plan.custom_defaults()
    match = people.MATCH_BY_EMAIL if plan.match_on == "email" else people.MATCH_BY_EXTERNAL_ID
    for attempt in range(RACE_RETRIES):
        try:
            async with savepoint(conn):
                await conn.execute(ANALYZE_CHECKED)
                await conn.execute(match, number)
                await conn.execute(people.CONFLICTS, number)
                await conn.execute(people.ATTRIBUTES, number, defaults)
                await conn.execute(people.REQUIRED, number, required, labels)
                await conn.execute(people.NEW_PEOPLE, number)
                await conn.execute(people.CHANGED, number)
                await conn.execute(people.OUTCOMES, number)
                await conn.execute(ANALYZE_CHECKED)
                await conn.execute(people.UPDATE, number, plan.source, plan.traceparent)
                for table, name in (("person_emails", "emails"), ("person_phones", "phones")):
                    await conn.execute(
                        people.DROP_CONTACT_POINTS.format(table=table, name=name), number
                    )
                await conn.execute(people.CREATE, number, plan.source, plan.traceparent)
                await conn.execute(people.INSERT_EMAILS, number)
                await conn.execute(people.INSERT_PHONES, number)
            return
        except asyncpg.UniqueViolationError:
            if attempt == RACE_RETRIES - 1:
                raise


# --- the job's progress ---------------------------------------------------------------------


PROGRESS = """
    UPDATE import_jobs SET rows_done = rows_done + $2, created_count = created_count + $3,
        updated_count = updated_count + $4, unchanged_count = unchanged_count + $5,
        error_count = error_count + $6, byte_offset = $7, chunks_done = chunks_done + 1
    WHERE id = $1
"""


async def _record(uow: UnitOfWork, job_id: uuid.UUID, chunk: reader.Chunk, t: Totals) -> None:
    await (await uow.driver()).execute(
        PROGRESS, job_id, chunk.rows, t.created, t.updated, t.unchanged, t.errors, chunk.end
    )


async def _finish(
    uow: UnitOfWork, job_id: uuid.UUID, owner: uuid.UUID, status: str, failure: str | None
) -> None:
    async with uow:
        job = await _job(uow, job_id)
        job.status, job.finished_at, job.failure = status, datetime.now(UTC), failure
        await (await uow.driver()).execute(DONE, job_id, owner)


async def _job(uow: UnitOfWork, job_id: uuid.UUID) -> ImportJob:
    job = await uow.session.get(ImportJob, job_id, with_for_update=True)
    if job is None:
        raise LookupError(f"no import {job_id}")
    return job


# --- the worker's part: jobs left behind by a process that stopped ---------------------


async def resume_job(
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    stopping: asyncio.Event,
) -> None:
    """Background job of the contacts worker: run every import whose lease expired, from
    its last committed chunk."""
    contacts = settings_of(settings, ContactsSettings)
    owner = uuid.uuid4()
    while not stopping.is_set():
        claimed = await _claim(sessionmaker, owner, contacts.import_lease_s)
        if claimed is not None:
            job_id, tenant_id = claimed
            log.info("resuming import %s", job_id)
            uow = UnitOfWork(sessionmaker, tenant_id=tenant_id, actor=None, source=settings.source)
            await run(uow, job_id, owner, contacts)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), POLL_S)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], owner: uuid.UUID, lease_s: float
) -> tuple[uuid.UUID, str] | None:
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                text(CLAIM.replace("$1", ":owner").replace("$2", ":lease")),
                {"owner": owner, "lease": lease_s},
            )
        ).first()
    return (row.job_id, row.tenant_id) if row else None
