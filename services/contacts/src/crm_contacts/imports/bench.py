"""Import throughput against a raw COPY of the same file, and the importer's peak memory.

    uv run python -m crm_contacts.imports.bench [rows]

Uses the service's configured database (CONTACTS_DATABASE_URL, already migrated) and a fresh
tenant. Prints rows/s for both, their ratio, and the process's peak RSS growth during the
import (flat memory means it does not grow with the row count).
"""

from __future__ import annotations

import asyncio
import csv
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from crm_contacts.imports import service
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.service import get_service
from crm_shared.uow import UnitOfWork

COLUMNS = ["email", "first_name", "last_name", "phone", "stage"]
MAPPING = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phones",
    "stage": "lifecycle_stage",
}


def write_file(path: Path, rows: int, tag: str) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow(
                [f"u{i}-{tag}@bench.example", f"First{i}", "Bench", f"+4870{i:07d}", "lead"]
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(rows: int) -> None:
    settings = get_service("contacts").settings()
    tag = uuid.uuid4().hex[:8]
    path = Path(tempfile.gettempdir()) / f"bench-{tag}.csv"
    write_file(path, rows, tag)

    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        await conn.execute(
            "CREATE TEMP TABLE copy_baseline "
            "(email text, first_name text, last_name text, phone text, stage text)"
        )
        started = time.perf_counter()
        await conn.copy_to_table("copy_baseline", source=path, format="csv", header=True)
        copy_s = time.perf_counter() - started
    finally:
        await conn.close()

    engine = create_engine(settings)
    uow = UnitOfWork(
        create_sessionmaker(engine), tenant_id=f"bench-{tag}", actor="bench", source="bench"
    )
    async with uow:
        job_id = (await service.create_job(uow, "email", MAPPING)).id
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    await service.run(uow, job_id, path)  # deletes the file when done
    import_s = time.perf_counter() - started
    async with uow:
        job = await service.get_job(uow, job_id)
        done, created, errors = job.rows_done, job.created_count, job.error_count
    await engine.dispose()
    print(f"rows: {rows} (done {done}, created {created}, errors {errors})")
    print(f"COPY:   {rows / copy_s:,.0f} rows/s ({copy_s:.2f} s)")
    print(f"import: {rows / import_s:,.0f} rows/s ({import_s:.2f} s)")
    print(f"ratio import/COPY: {copy_s / import_s:.4f}")
    print(f"peak RSS {peak_rss_mb():.0f} MB (+{peak_rss_mb() - rss_before:.0f} MB during import)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
