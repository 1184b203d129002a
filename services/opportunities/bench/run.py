"""Opportunities benchmark: lead intake (with routing), stage change, and the forecast over
100k deals, each against a same-run reference: the least machinery doing the same SQL (a bare
Starlette app verifying the same JWT, on raw asyncpg, no ORM, no validation layer).

    uv run crm migrate opportunities && uv run python services/opportunities/bench/run.py

Runs in-process (httpx ASGI transport, so no network or server in the figures) against the
local crm_opportunities database, in a tenant of its own that it clears first. Writes
services/opportunities/bench/results/opportunities.{json,md}.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crm_opportunities.main import spec
from crm_shared.auth import mint_token
from crm_shared.ids import uuid7
from crm_shared.settings import DEV_JWT_SECRET

RESULTS = Path(__file__).parent / "results"
TENANT = "bench-opps"
DEALS = int(os.environ.get("BENCH_DEALS", "100000"))
INTAKES = int(os.environ.get("BENCH_INTAKES", "1000"))
MOVES = int(os.environ.get("BENCH_MOVES", "1000"))
FORECASTS = int(os.environ.get("BENCH_FORECASTS", "20"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
SETTINGS = spec.settings()
OWNER_DSN = SETTINGS.migration_database_url.replace("+asyncpg", "")
APP_DSN = SETTINGS.database_url.replace("+asyncpg", "")
OWNERS = [f"rep-{i}" for i in range(20)]
TABLES = [
    "lead_assignments",
    "leads",
    "routing_rules",
    "team_members",
    "stage_changes",
    "line_items",
    "quotes",
    "opportunities",
    "stages",
    "pipelines",
    "teams",
    "outbox",
]


async def setup(owner: asyncpg.Connection) -> dict[str, Any]:
    await owner.execute("SELECT set_config('app.tenant_id', $1, false)", TENANT)
    for table in TABLES:
        await owner.execute(f"DELETE FROM {table} WHERE tenant_id = $1", TENANT)
    now = datetime.now(UTC)
    team_id, pipeline_id = uuid7(), uuid7()
    await owner.execute(
        "INSERT INTO teams (id, tenant_id, name, strategy, version, created_at, updated_at) "
        "VALUES ($1, $2, 'Bench', 'round_robin', 1, $3, $3)",
        team_id,
        TENANT,
        now,
    )
    await owner.executemany(
        "INSERT INTO team_members (id, tenant_id, team_id, user_id, active, joined_at) "
        "VALUES ($1, $2, $3, $4, true, $5)",
        [(uuid7(), TENANT, team_id, u, now) for u in OWNERS],
    )
    await owner.execute(
        "INSERT INTO routing_rules (id, tenant_id, position, name, conditions, team_id, active, "
        "created_at) VALUES ($1, $2, 0, 'all', '{}', $3, true, $4)",
        uuid7(),
        TENANT,
        team_id,
        now,
    )
    await owner.execute(
        "INSERT INTO pipelines (id, tenant_id, name, version, created_at, updated_at) "
        "VALUES ($1, $2, 'Bench', 1, $3, $3)",
        pipeline_id,
        TENANT,
        now,
    )
    stages = [
        (uuid7(), n, i, Decimal(p), k)
        for i, (n, p, k) in enumerate(
            [
                ("Qualify", 10, "open"),
                ("Propose", 40, "open"),
                ("Negotiate", 70, "open"),
                ("Won", 100, "won"),
                ("Lost", 0, "lost"),
            ]
        )
    ]
    await owner.executemany(
        "INSERT INTO stages (id, tenant_id, pipeline_id, name, position, probability, kind) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(s[0], TENANT, pipeline_id, s[1], s[2], s[3], s[4]) for s in stages],
    )
    today = date.today()
    rows = []
    for i in range(DEALS):
        s = stages[i % 5]
        closed = now - timedelta(days=i % 90) if s[4] != "open" else None
        rows.append(
            (
                uuid7(),
                TENANT,
                f"Deal {i}",
                uuid.uuid4(),
                OWNERS[i % len(OWNERS)],
                team_id,
                pipeline_id,
                s[0],
                Decimal(1000 + i % 5000),
                "EUR",
                s[3],
                today + timedelta(days=i % 365),
                s[4],
                closed,
                1,
                now - timedelta(days=120),
                now,
            )
        )
    columns = [
        "id", "tenant_id", "name", "person_id", "owner_id", "team_id", "pipeline_id",
        "stage_id", "amount", "currency", "probability", "expected_close_date", "status",
        "closed_at", "version", "created_at", "updated_at",
    ]  # fmt: skip
    # COPY is refused under forced row-level security: batched INSERTs instead.
    insert = (
        f"INSERT INTO opportunities ({', '.join(columns)}) VALUES "
        f"({', '.join(f'${n + 1}' for n in range(len(columns)))})"
    )
    for chunk in range(0, len(rows), 5000):
        await owner.executemany(insert, rows[chunk : chunk + 5000])
    await owner.execute("ANALYZE opportunities")
    return {"team": team_id, "pipeline": pipeline_id, "stages": stages, "deals": rows}


async def timed(
    n: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    latencies: list[float] = []
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "n": n,
        "per_s": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
    }


FORECAST_SQL = """
SELECT owner_id, currency,
  count(*) FILTER (WHERE status = 'open' AND expected_close_date BETWEEN $1 AND $2),
  coalesce(sum(amount) FILTER (WHERE status = 'open' AND expected_close_date BETWEEN $1 AND $2), 0),
  coalesce(sum(amount * probability / 100)
    FILTER (WHERE status = 'open' AND expected_close_date BETWEEN $1 AND $2), 0),
  count(*) FILTER (WHERE status = 'won' AND closed_at >= $3 AND closed_at < $4),
  count(*) FILTER (WHERE status = 'lost' AND closed_at >= $3 AND closed_at < $4),
  coalesce(sum(amount) FILTER (WHERE status = 'won' AND closed_at >= $3 AND closed_at < $4), 0),
  avg(extract(epoch FROM closed_at - created_at) / 86400)
    FILTER (WHERE status = 'won' AND closed_at >= $3 AND closed_at < $4)
FROM opportunities
WHERE deleted_at IS NULL AND ((status = 'open' AND expected_close_date BETWEEN $1 AND $2)
  OR (closed_at >= $3 AND closed_at < $4))
GROUP BY owner_id, currency ORDER BY owner_id, currency
"""


async def reference_intake(pool: asyncpg.Pool, ctx: dict[str, Any], i: int) -> None:
    """Intake as the least machinery does it: the lead, the duplicate check, the routing
    (rule, team lock, member loads), the assignment and two outbox rows."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        email = f"ref-{i}-{uuid.uuid4().hex[:6]}@bench.example"
        await conn.fetchval(
            "SELECT id FROM leads WHERE email = $1 AND status IN ('new','working','qualified') "
            "AND converted_at IS NULL LIMIT 1",
            email,
        )
        lead_id, now = uuid7(), datetime.now(UTC)
        await conn.execute(
            "INSERT INTO leads (id, tenant_id, email, source, status, version, created_at, "
            "updated_at) VALUES ($1, $2, $3, 'api', 'new', 1, $4, $4)",
            lead_id,
            TENANT,
            email,
            now,
        )
        await conn.fetch("SELECT * FROM routing_rules WHERE active ORDER BY position")
        last = await conn.fetchval(
            "SELECT rr_last_user FROM teams WHERE id = $1 FOR UPDATE", ctx["team"]
        )
        members = [
            r[0]
            for r in await conn.fetch(
                "SELECT user_id FROM team_members WHERE team_id = $1 AND active ORDER BY user_id",
                ctx["team"],
            )
        ]
        await conn.fetch(
            "SELECT owner_id, count(*) FROM leads WHERE owner_id = ANY($1::text[]) AND status "
            "IN ('new','working') AND converted_at IS NULL GROUP BY owner_id",
            members,
        )
        owner = next((m for m in members if last is None or m > last), members[0])
        await conn.execute("UPDATE teams SET rr_last_user = $1 WHERE id = $2", owner, ctx["team"])
        await conn.execute(
            "UPDATE leads SET owner_id = $1, team_id = $2 WHERE id = $3",
            owner,
            ctx["team"],
            lead_id,
        )
        await conn.execute(
            "INSERT INTO lead_assignments (id, tenant_id, lead_id, owner_id, team_id, reason, "
            "assigned_at) VALUES ($1, $2, $3, $4, $5, 'round_robin', $6)",
            uuid7(),
            TENANT,
            lead_id,
            owner,
            ctx["team"],
            now,
        )
        for kind in ("crm.lead.created", "crm.lead.assigned"):
            await conn.execute(
                "INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, "
                "data) VALUES ($1, $2, 'crm.opportunities.v1', $3, $4, '/crm/opportunities', "
                "$3, $5, $6::jsonb)",
                uuid.UUID(str(uuid7())),
                TENANT,
                str(lead_id),
                kind,
                now,
                orjson.dumps({"tenant_id": TENANT, "lead_id": str(lead_id)}).decode(),
            )


async def reference_move(pool: asyncpg.Pool, ctx: dict[str, Any], i: int) -> None:
    deal = ctx["deals"][i]
    to_stage = ctx["stages"][(i + 1) % 3][0]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        row = await conn.fetchrow(
            "SELECT stage_id, version FROM opportunities WHERE id = $1 FOR UPDATE", deal[0]
        )
        now = datetime.now(UTC)
        await conn.execute(
            "UPDATE opportunities SET stage_id = $1, probability = 40, version = version + 1, "
            "updated_at = $2 WHERE id = $3 AND version = $4",
            to_stage,
            now,
            deal[0],
            row["version"],
        )
        await conn.execute(
            "INSERT INTO stage_changes (id, tenant_id, opportunity_id, from_stage_id, "
            "to_stage_id, changed_at, changed_by) VALUES ($1, $2, $3, $4, $5, $6, 'bench')",
            uuid7(),
            TENANT,
            deal[0],
            row["stage_id"],
            to_stage,
            now,
        )
        await conn.execute(
            "INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, data) "
            "VALUES ($1, $2, 'crm.opportunities.v1', $3, 'crm.opportunity.stage_changed', "
            "'/crm/opportunities', $3, $4, $5::jsonb)",
            uuid.UUID(str(uuid7())),
            TENANT,
            str(deal[3]),
            now,
            orjson.dumps({"tenant_id": TENANT, "opportunity_id": str(deal[0])}).decode(),
        )


def reference_app(pool: asyncpg.Pool, ctx: dict[str, Any]) -> Starlette:
    def authorised(request: Request) -> None:
        token = request.headers["authorization"].removeprefix("Bearer ")
        jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"], options={"require": ["exp"]})

    async def intake(request: Request) -> JSONResponse:
        authorised(request)
        body = orjson.loads(await request.body())
        await reference_intake(pool, ctx, int(body["i"]))
        return JSONResponse({"ok": True}, status_code=201)

    async def move(request: Request) -> JSONResponse:
        authorised(request)
        await reference_move(pool, ctx, int(request.path_params["i"]))
        return JSONResponse({"ok": True})

    async def forecast(request: Request) -> JSONResponse:
        authorised(request)
        today = date.today()
        start = datetime.combine(today, datetime.min.time(), UTC)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
            rows = await conn.fetch(
                FORECAST_SQL, today, today + timedelta(days=90), start, start + timedelta(days=91)
            )
        return JSONResponse({"rows": [[str(v) for v in r] for r in rows]})

    return Starlette(
        routes=[
            Route("/intake", intake, methods=["POST"]),
            Route("/move/{i}", move, methods=["POST"]),
            Route("/forecast", forecast),
        ]
    )


async def main() -> None:
    owner = await asyncpg.connect(OWNER_DSN)
    started = time.perf_counter()
    ctx = await setup(owner)
    setup_s = round(time.perf_counter() - started, 1)
    pool = await asyncpg.create_pool(APP_DSN, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert pool is not None
    app = spec.create_app(SETTINGS)
    token = mint_token(SETTINGS, tenant=TENANT, roles=["admin"], sub="bench")
    results: dict[str, Any] = {"deals": DEALS, "setup_s": setup_s, "concurrency": CONCURRENCY}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://opportunities",
            headers={"Authorization": f"Bearer {token}"},
        ) as api,
    ):

        async def intake(i: int) -> None:
            r = await api.post(
                "/v1/leads", json={"email": f"svc-{i}-{uuid.uuid4().hex[:6]}@b.example"}
            )
            assert r.status_code == 201 and r.json()["owner_id"], r.text

        async def move(i: int) -> None:
            deal = ctx["deals"][MOVES + i]
            r = await api.patch(
                f"/v1/opportunities/{deal[0]}",
                json={"stage_id": str(ctx["stages"][(i + 1) % 3][0])},
                headers={"If-Match": '"1"'},
            )
            assert r.status_code == 200, r.text

        today = date.today()
        period = {"from": str(today), "to": str(today + timedelta(days=90))}

        async def forecast(_: int) -> None:
            r = await api.get("/v1/forecast", params=period)
            assert r.status_code == 200 and r.json()["rows"], r.text

        open_deals = [d for d in ctx["deals"] if d[12] == "open"]
        ctx["deals"] = open_deals
        ref = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reference_app(pool, ctx)),
            base_url="http://reference",
            headers={"Authorization": f"Bearer {token}"},
        )

        async def reference_intake_http(i: int) -> None:
            assert (await ref.post("/intake", json={"i": i})).status_code == 201

        async def reference_move_http(i: int) -> None:
            assert (await ref.post(f"/move/{i}")).status_code == 200

        async def reference_forecast(_: int) -> None:
            assert (await ref.get("/forecast")).status_code == 200

        for name, service, reference, n, conc in (
            ("lead_intake", intake, reference_intake_http, INTAKES, CONCURRENCY),
            ("stage_change", move, reference_move_http, MOVES, CONCURRENCY),
            ("forecast_100k", forecast, reference_forecast, FORECASTS, 1),
        ):
            svc = await timed(n, conc, service)
            base = await timed(n, conc, reference)
            results[name] = {
                "service": svc,
                "reference": base,
                "throughput_ratio": round(svc["per_s"] / base["per_s"], 2),
            }
            print(name, json.dumps(results[name]))
        await ref.aclose()
    await pool.close()
    await owner.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "opportunities.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Opportunities benchmark",
        "",
        f"{DEALS} deals; concurrency {CONCURRENCY} (forecast: 1); in-process ASGI; same-run "
        "reference = bare Starlette + JWT + raw asyncpg with the same SQL.",
        "",
        "| path | service /s | p50 ms | p99 ms | reference /s | p50 ms | p99 ms | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("lead_intake", "stage_change", "forecast_100k"):
        s, r = results[name]["service"], results[name]["reference"]
        lines.append(
            f"| {name} | {s['per_s']} | {s['p50_ms']} | {s['p99_ms']} | {r['per_s']} | "
            f"{r['p50_ms']} | {r['p99_ms']} | {results[name]['throughput_ratio']} |"
        )
    (RESULTS / "opportunities.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
