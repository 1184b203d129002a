"""Tickets benchmark: the SLA scan over 1M open tickets and email intake throughput, each
against a same-run reference (the least machinery doing the same SQL on raw asyncpg).

    uv run python services/tickets/bench/run.py          # BENCH_TICKETS=1000000 by default

Runs against the local crm_tickets database (migrate it first: `crm migrate tickets`), in a
tenant of its own that it clears first. Writes services/tickets/bench/results/tickets.{json,md}.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crm_shared.auth import mint_token
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.ids import uuid7
from crm_tickets.main import spec
from crm_tickets.sla.scheduler import scan

RESULTS = Path(__file__).parent / "results"
TENANT = "bench-tickets"
N = int(os.environ.get("BENCH_TICKETS", "1000000"))
DUE = int(os.environ.get("BENCH_DUE", "10000"))
INTAKES = int(os.environ.get("BENCH_INTAKES", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
SETTINGS = spec.settings()
OWNER_DSN = SETTINGS.migration_database_url.replace("+asyncpg", "")
APP_DSN = SETTINGS.database_url.replace("+asyncpg", "")


async def setup(owner: asyncpg.Connection) -> None:
    """N open tickets, each with a running resolution timer; DUE of them already due."""
    await owner.execute("SELECT set_config('app.tenant_id', $1, false)", TENANT)
    await owner.execute("DELETE FROM ticket_messages WHERE tenant_id = $1", TENANT)
    have = await owner.fetchval("SELECT count(*) FROM tickets WHERE tenant_id = $1", TENANT)
    if have == N and os.environ.get("BENCH_REUSE", "1") == "1":
        return  # the same data set as the previous run (make_due resets the timers)
    await owner.execute("DELETE FROM sla_emissions WHERE tenant_id = $1", TENANT)
    await owner.execute("DELETE FROM sla_timers WHERE tenant_id = $1", TENANT)
    await owner.execute("DELETE FROM outbox WHERE tenant_id = $1", TENANT)
    await owner.execute("DELETE FROM ticket_messages WHERE tenant_id = $1", TENANT)
    await owner.execute("DELETE FROM tickets WHERE tenant_id = $1", TENANT)
    await owner.execute(
        """
        INSERT INTO tickets (id, tenant_id, subject, requester_id, channel, priority, status,
            kind, tags, version, created_at, updated_at)
        SELECT gen_random_uuid(), $1, 'Ticket ' || g, gen_random_uuid(), 'email', 'normal',
            'open', 'incident', '{}', 1, now() - interval '1 hour', now() - interval '1 hour'
        FROM generate_series(1, $2) g
        """,
        TENANT,
        N,
    )
    await owner.execute(
        """
        INSERT INTO sla_timers (tenant_id, ticket_id, contact_id, target, cycle, budget_s,
            consumed_s, warning_share, business_hours, running_since, warn_at, due_at)
        SELECT tenant_id, id, requester_id, 'resolution', 0, 28800, 0, 0.8, false,
            created_at, now() + interval '10 days', now() + interval '12 days'
        FROM tickets WHERE tenant_id = $1
        """,
        TENANT,
    )
    await owner.execute("ANALYZE tickets; ANALYZE sla_timers")


async def make_due(owner: asyncpg.Connection) -> None:
    await owner.execute("DELETE FROM sla_emissions WHERE tenant_id = $1", TENANT)
    await owner.execute("DELETE FROM outbox WHERE tenant_id = $1", TENANT)
    await owner.execute(
        """
        UPDATE sla_timers SET warned_at = NULL, breached_at = NULL,
            warn_at = now() + interval '10 days', due_at = now() + interval '12 days'
        WHERE tenant_id = $1 AND (warned_at IS NOT NULL OR warn_at < now())
        """,
        TENANT,
    )
    await owner.execute(
        """
        UPDATE sla_timers SET warn_at = now() - interval '2 minutes',
            due_at = now() - interval '1 minute'
        WHERE id IN (SELECT id FROM sla_timers WHERE tenant_id = $1 ORDER BY random() LIMIT $2)
        """,
        TENANT,
        DUE,
    )


REF_CLAIM = """
    SELECT id, tenant_id, ticket_id, contact_id, target, warn_at, due_at, warned_at, breached_at
    FROM sla_timers
    WHERE id IN (
        SELECT id FROM sla_timers
        WHERE warned_at IS NULL AND stopped_at IS NULL AND warn_at <= $1
        UNION
        SELECT id FROM sla_timers
        WHERE breached_at IS NULL AND stopped_at IS NULL AND due_at <= $1
    )
    ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED
"""
REF_OUTBOX = (
    "INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, data) "
    "VALUES ($1, $2, 'crm.tickets.v1', $3, $4, '/crm/tickets', $3, $5, $6)"
)


async def reference_scan(pool: asyncpg.Pool) -> int:
    """The same claim, markers, outbox rows and timer updates, hand-written."""
    emitted = 0
    while True:
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(REF_CLAIM, now)
            if not rows:
                return emitted
            due = []
            for r in rows:
                if r["warned_at"] is None and r["warn_at"] <= now:
                    due.append((r, "warning"))
                if r["breached_at"] is None and r["due_at"] <= now:
                    due.append((r, "breach"))
            marked = await conn.fetch(
                "INSERT INTO sla_emissions (tenant_id, timer_id, kind, emitted_at) "
                "SELECT t, i, k, $4 "
                "FROM unnest($1::text[], $2::bigint[], $3::text[]) AS d(t, i, k) "
                "ON CONFLICT DO NOTHING RETURNING timer_id, kind",
                [r["tenant_id"] for r, _ in due],
                [r["id"] for r, _ in due],
                [k for _, k in due],
                now,
            )
            done = {(m["timer_id"], m["kind"]) for m in marked}
            await conn.executemany(
                REF_OUTBOX,
                [
                    (
                        uuid7(),
                        r["tenant_id"],
                        str(r["contact_id"]),
                        f"crm.ticket.sla_{'warning' if k == 'warning' else 'breached'}",
                        now,
                        orjson.dumps(
                            {
                                "tenant_id": r["tenant_id"],
                                "contact_id": str(r["contact_id"]),
                                "ticket_id": str(r["ticket_id"]),
                                "target": r["target"],
                                "due_at": r["due_at"].isoformat(),
                            }
                        ).decode(),
                    )
                    for r, k in due
                    if (r["id"], k) in done
                ],
            )
            await conn.execute(
                "UPDATE sla_timers SET warned_at = coalesce(warned_at, $2), "
                "breached_at = CASE WHEN due_at <= $2 THEN $2 ELSE breached_at END "
                "WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
                now,
            )
            emitted += len(done)


async def bench_scan(owner: asyncpg.Connection) -> dict[str, Any]:
    engine = create_engine(SETTINGS)
    maker = create_sessionmaker(engine)
    pool = await asyncpg.create_pool(APP_DSN, min_size=2, max_size=4)
    out: dict[str, Any] = {}
    try:
        await make_due(owner)
        await owner.execute(
            "UPDATE sla_timers SET warn_at = warn_at + interval '30 days', "
            "due_at = due_at + interval '30 days' WHERE tenant_id = $1 "
            "AND due_at < now()",
            TENANT,
        )
        await owner.execute("VACUUM ANALYZE sla_timers")
        await scan(maker, "/crm/tickets")  # warm the pool's connections
        started = time.perf_counter()
        assert await scan(maker, "/crm/tickets") == 0
        out["idle_scan_ms"] = round((time.perf_counter() - started) * 1000, 2)
        for name in ("service", "reference"):
            await make_due(owner)
            started = time.perf_counter()
            if name == "service":
                emitted = await scan(maker, "/crm/tickets")
            else:
                emitted = await reference_scan(pool)
            seconds = time.perf_counter() - started
            assert emitted == 2 * DUE, (name, emitted)
            out[name] = {
                "events": emitted,
                "seconds": round(seconds, 3),
                "events_per_s": round(emitted / seconds, 1),
            }
    finally:
        await pool.close()
        await engine.dispose()
    return out


# --- intake -------------------------------------------------------------------------------


def reference_app(pool_holder: dict[str, asyncpg.Pool]) -> Starlette:
    async def intake(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        number = int(body["subject"].split("[#", 1)[1].split("]", 1)[0])
        now = datetime.now(UTC)
        async with pool_holder["pool"].acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
            ticket = await conn.fetchrow(
                "SELECT id, requester_id FROM tickets WHERE number = $1 FOR UPDATE", number
            )
            assert ticket is not None
            message_id = uuid7()
            await conn.execute(
                "INSERT INTO ticket_messages (id, tenant_id, ticket_id, channel, direction, "
                "public, body, external_id, created_at) "
                "VALUES ($1, $2, $3, 'email', 'inbound', true, $4, $5, $6)",
                message_id,
                TENANT,
                ticket["id"],
                body["text"],
                body["message_id"],
                now,
            )
            await conn.execute(
                "UPDATE tickets SET updated_at = $2, version = version + 1 WHERE id = $1",
                ticket["id"],
                now,
            )
            data = orjson.dumps({"ticket_id": str(ticket["id"]), "message_id": str(message_id)})
            for ce_type in ("crm.ticket.message_added", "crm.interaction.logged"):
                await conn.execute(
                    REF_OUTBOX,
                    uuid7(),
                    TENANT,
                    str(ticket["requester_id"]),
                    ce_type,
                    now,
                    data.decode(),
                )
        return JSONResponse({"ticket_id": str(ticket["id"])}, status_code=201)

    return Starlette(routes=[Route("/v1/intake/email", intake, methods=["POST"])])


async def drive(client: httpx.AsyncClient, numbers: list[int]) -> dict[str, Any]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(numbers)):
        queue.put_nowait(i)
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while not queue.empty():
            i = queue.get_nowait()
            body = {
                "from": f"bench{i % 500}@example.com",
                "subject": f"Re: [#{numbers[i]}] help",
                "text": "Still waiting for an answer.",
                "message_id": f"<{uuid.uuid4()}@bench>",
            }
            t0 = time.perf_counter()
            response = await client.post("/v1/intake/email", json=body)
            latencies.append(time.perf_counter() - t0)
            failures += response.status_code != 201

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(numbers),
        "failures": failures,
        "per_s": round(len(numbers) / seconds, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


async def bench_intake(owner: asyncpg.Connection) -> dict[str, Any]:
    await owner.execute("SELECT set_config('app.tenant_id', $1, false)", TENANT)
    numbers = [
        r["number"]
        for r in await owner.fetch(
            "SELECT number FROM tickets WHERE tenant_id = $1 ORDER BY random() LIMIT $2",
            TENANT,
            INTAKES,
        )
    ]
    app = spec.create_app(SETTINGS)
    token = mint_token(SETTINGS, tenant=TENANT, roles=["integration"], sub="bench")
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
        ) as client,
    ):
        await drive(client, numbers[:100])  # warm up
        out["service"] = await drive(client, numbers)
    holder: dict[str, asyncpg.Pool] = {
        "pool": await asyncpg.create_pool(APP_DSN, min_size=4, max_size=SETTINGS.db_pool_size)
    }
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reference_app(holder)), base_url="http://r"
        ) as client:
            await drive(client, numbers[:100])
            out["reference"] = await drive(client, numbers)
    finally:
        await holder["pool"].close()
    return out


async def main() -> None:
    owner = await asyncpg.connect(OWNER_DSN)
    try:
        started = time.perf_counter()
        await setup(owner)
        print(f"setup: {N} open tickets in {time.perf_counter() - started:.1f}s", flush=True)
        results: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(),
            "open_tickets": N,
            "due_timers": DUE,
            "sla_scan": await bench_scan(owner),
            "intake": await bench_intake(owner),
        }
    finally:
        await owner.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tickets.json").write_text(json.dumps(results, indent=2) + "\n")
    scan_r, intake_r = results["sla_scan"], results["intake"]
    lines = [
        f"# Tickets benchmark ({results['when'][:16]} UTC, {N} open tickets)",
        "",
        f"SLA scan with nothing due over {N} running timers: {scan_r['idle_scan_ms']} ms.",
        "",
        "| work | service | reference | ratio |",
        "|---|---|---|---|",
        f"| SLA scan, {DUE} due timers ({2 * DUE} events), events/s | "
        f"{scan_r['service']['events_per_s']} | {scan_r['reference']['events_per_s']} | "
        f"{scan_r['service']['events_per_s'] / scan_r['reference']['events_per_s']:.2f} |",
        f"| Email intake (threaded reply), requests/s at concurrency {CONCURRENCY} | "
        f"{intake_r['service']['per_s']} | {intake_r['reference']['per_s']} | "
        f"{intake_r['service']['per_s'] / intake_r['reference']['per_s']:.2f} |",
        f"| Email intake p99 ms | {intake_r['service']['p99_ms']} | "
        f"{intake_r['reference']['p99_ms']} | |",
        "",
    ]
    (RESULTS / "tickets.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
