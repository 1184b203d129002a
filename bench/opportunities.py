"""`make bench`: the opportunities service's hot paths against a same-run reference.

Lead intake (with routing), stage change, and the forecast over 100k deals. The reference is
the least machinery doing the same work: a bare Starlette app verifying the same JWT, running
the fewest statements that do it on raw asyncpg (no ORM, no validation layer). Both run
in-process behind httpx's ASGI transport, so no network or server process is in the figures,
in a tenant of their own that is cleared first, in the local crm_opportunities database
(`crm migrate opportunities`).

Closed loop: CONCURRENCY callers each send the next request when the last one answered; the
ratio compares requests per second. Writes bench/results/opportunities.{json,md,svg}.
BENCH_DEALS, BENCH_INTAKES, BENCH_MOVES, BENCH_FORECASTS and BENCH_PATHS shrink a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
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

from bench.chart import bar_chart
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
PATHS = os.environ.get("BENCH_PATHS", "lead_intake stage_change forecast").split()
OWNERS = [f"rep-{i}" for i in range(20)]
STAGES = [
    ("Qualify", 10, "open"),
    ("Propose", 40, "open"),
    ("Negotiate", 70, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
]
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
DEAL_COLUMNS = [
    "id", "tenant_id", "name", "person_id", "owner_id", "team_id", "pipeline_id",
    "stage_id", "amount", "currency", "probability", "expected_close_date", "status",
    "closed_at", "version", "created_at", "updated_at",
]  # fmt: skip

Ctx = dict[str, Any]
Call = Callable[[int], Awaitable[None]]


# --- the data: one team routing every lead, one pipeline, DEALS deals --------------------------


async def setup(owner: asyncpg.Connection) -> Ctx:
    await owner.execute("SELECT set_config('app.tenant_id', $1, false)", TENANT)
    for table in TABLES:
        await owner.execute(f"DELETE FROM {table} WHERE tenant_id = $1", TENANT)
    team_id = await _team(owner)
    pipeline_id, stages = await _pipeline(owner)
    deals = _deals(team_id, pipeline_id, stages)
    # COPY is refused under forced row-level security: batched INSERTs instead.
    insert = (
        f"INSERT INTO opportunities ({', '.join(DEAL_COLUMNS)}) VALUES "
        f"({', '.join(f'${n + 1}' for n in range(len(DEAL_COLUMNS)))})"
    )
    for chunk in range(0, len(deals), 5000):
        await owner.executemany(insert, deals[chunk : chunk + 5000])
        print(f"  {min(chunk + 5000, len(deals))}/{len(deals)} deals", flush=True)
    await owner.execute("ANALYZE opportunities")
    return {"team": team_id, "pipeline": pipeline_id, "stages": stages, "deals": deals}


async def _team(owner: asyncpg.Connection) -> uuid.UUID:
    team_id, now = uuid7(), datetime.now(UTC)
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
        [(uuid7(), TENANT, team_id, user, now) for user in OWNERS],
    )
    await owner.execute(
        "INSERT INTO routing_rules (id, tenant_id, position, name, conditions, team_id, active, "
        "created_at) VALUES ($1, $2, 0, 'all', '{}', $3, true, $4)",
        uuid7(),
        TENANT,
        team_id,
        now,
    )
    return team_id


async def _pipeline(owner: asyncpg.Connection) -> tuple[uuid.UUID, list[tuple[Any, ...]]]:
    pipeline_id = uuid7()
    await owner.execute(
        "INSERT INTO pipelines (id, tenant_id, name, version, created_at, updated_at) "
        "VALUES ($1, $2, 'Bench', 1, $3, $3)",
        pipeline_id,
        TENANT,
        datetime.now(UTC),
    )
    stages = [(uuid7(), n, i, Decimal(p), k) for i, (n, p, k) in enumerate(STAGES)]
    await owner.executemany(
        "INSERT INTO stages (id, tenant_id, pipeline_id, name, position, probability, kind) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(s[0], TENANT, pipeline_id, s[1], s[2], s[3], s[4]) for s in stages],
    )
    return pipeline_id, stages


def _deals(
    team_id: uuid.UUID, pipeline_id: uuid.UUID, stages: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    now, today = datetime.now(UTC), date.today()
    rows = []
    for i in range(DEALS):
        stage = stages[i % len(stages)]
        closed = now - timedelta(days=i % 90) if stage[4] != "open" else None
        rows.append(
            (
                uuid7(),
                TENANT,
                f"Deal {i}",
                uuid.uuid4(),
                OWNERS[i % len(OWNERS)],
                team_id,
                pipeline_id,
                stage[0],
                Decimal(1000 + i % 5000),
                "EUR",
                stage[3],
                today + timedelta(days=i % 365),
                stage[4],
                closed,
                1,
                now - timedelta(days=120),
                now,
            )
        )
    return rows


# --- the reference: the same SQL on raw asyncpg -------------------------------------------------

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
DUPLICATE_SQL = """
SELECT (SELECT id FROM leads WHERE email = $1 AND status IN ('new', 'working', 'qualified')
          AND converted_at IS NULL ORDER BY id LIMIT 1),
       (SELECT contact_id FROM contact_emails WHERE email = $1 LIMIT 1)
"""
OUTBOX_SQL = (
    "INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, data) "
    "VALUES ($1, $2, 'crm.opportunities.v1', $3, $4, '/crm/opportunities', $3, $5, $6::jsonb)"
)


async def reference_intake(pool: asyncpg.Pool, ctx: Ctx, i: int) -> None:
    """Intake as the least machinery does it: the duplicate checks, the routing (rules, team
    lock, members with their open loads), the lead with its owner, the assignment and two
    outbox rows."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        email = f"ref-{i}-{uuid.uuid4().hex[:6]}@bench.example"
        await conn.fetchrow(DUPLICATE_SQL, email)
        await conn.fetch("SELECT * FROM routing_rules WHERE active ORDER BY position")
        last = await conn.fetchval(
            "SELECT rr_last_user FROM teams WHERE id = $1 FOR UPDATE", ctx["team"]
        )
        members = await conn.fetch(
            "SELECT m.user_id, (SELECT count(*) FROM leads l WHERE l.owner_id = m.user_id "
            "AND l.status IN ('new','working') AND l.converted_at IS NULL) "
            "FROM team_members m WHERE m.team_id = $1 AND m.active ORDER BY m.user_id",
            ctx["team"],
        )
        users = [m[0] for m in members]
        owner = next((u for u in users if last is None or u > last), users[0])
        await conn.execute("UPDATE teams SET rr_last_user = $1 WHERE id = $2", owner, ctx["team"])
        lead_id, now = uuid7(), datetime.now(UTC)
        await conn.execute(
            "INSERT INTO leads (id, tenant_id, email, source, status, owner_id, team_id, "
            "version, created_at, updated_at) VALUES ($1, $2, $3, 'api', 'new', $4, $5, 1, $6, $6)",
            lead_id,
            TENANT,
            email,
            owner,
            ctx["team"],
            now,
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
        data = orjson.dumps({"tenant_id": TENANT, "lead_id": str(lead_id)}).decode()
        await conn.executemany(
            OUTBOX_SQL,
            [
                (uuid7(), TENANT, str(lead_id), kind, now, data)
                for kind in ("crm.lead.created", "crm.lead.assigned")
            ],
        )


async def reference_move(pool: asyncpg.Pool, ctx: Ctx, i: int) -> None:
    deal = next(ctx["reference_deals"])
    to_stage = ctx["stages"][(i + 1) % 3]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        row = await conn.fetchrow(
            "SELECT stage_id, version FROM opportunities WHERE id = $1 FOR UPDATE", deal[0]
        )
        now = datetime.now(UTC)
        await conn.execute(
            "UPDATE opportunities SET stage_id = $1, probability = $2, version = version + 1, "
            "updated_at = $3 WHERE id = $4 AND version = $5",
            to_stage[0],
            to_stage[3],
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
            to_stage[0],
            now,
        )
        data = orjson.dumps({"tenant_id": TENANT, "opportunity_id": str(deal[0])}).decode()
        await conn.execute(
            OUTBOX_SQL, uuid7(), TENANT, str(deal[3]), "crm.opportunity.stage_changed", now, data
        )


async def reference_forecast(pool: asyncpg.Pool) -> list[list[str]]:
    today = date.today()
    start = datetime.combine(today, datetime.min.time(), UTC)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        rows = await conn.fetch(
            FORECAST_SQL, today, today + timedelta(days=90), start, start + timedelta(days=91)
        )
    return [[str(v) for v in r] for r in rows]


def reference_app(pool: asyncpg.Pool, ctx: Ctx) -> Starlette:
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
        return JSONResponse({"rows": await reference_forecast(pool)})

    return Starlette(
        routes=[
            Route("/intake", intake, methods=["POST"]),
            Route("/move/{i}", move, methods=["POST"]),
            Route("/forecast", forecast),
        ]
    )


# --- the service's side: the public API ---------------------------------------------------------


def service_calls(api: httpx.AsyncClient, ctx: Ctx) -> dict[str, Call]:
    today = date.today()
    period = {"from": str(today), "to": str(today + timedelta(days=90))}

    async def intake(i: int) -> None:
        r = await api.post("/v1/leads", json={"email": f"svc-{i}-{uuid.uuid4().hex[:6]}@b.example"})
        assert r.status_code == 201 and r.json()["owner_id"], r.text

    async def move(i: int) -> None:
        deal = next(ctx["service_deals"])
        r = await api.patch(
            f"/v1/opportunities/{deal[0]}",
            json={"stage_id": str(ctx["stages"][(i + 1) % 3][0])},
            headers={"If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text

    async def forecast(_: int) -> None:
        r = await api.get("/v1/forecast", params=period)
        assert r.status_code == 200 and r.json()["rows"], r.text

    return {"lead_intake": intake, "stage_change": move, "forecast": forecast}


def reference_calls(ref: httpx.AsyncClient) -> dict[str, Call]:
    async def intake(i: int) -> None:
        assert (await ref.post("/intake", json={"i": i})).status_code == 201

    async def move(i: int) -> None:
        assert (await ref.post(f"/move/{i}")).status_code == 200

    async def forecast(_: int) -> None:
        assert (await ref.get("/forecast")).status_code == 200

    return {"lead_intake": intake, "stage_change": move, "forecast": forecast}


async def timed(n: int, concurrency: int, one: Call) -> dict[str, float]:
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


def clients(ctx: Ctx, pool: asyncpg.Pool, app: Any) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    token = mint_token(DEV_JWT_SECRET, tenant=TENANT, roles=["admin"], sub="bench")
    headers = {"Authorization": f"Bearer {token}"}
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://opportunities", headers=headers
    )
    ref = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=reference_app(pool, ctx)),
        base_url="http://reference",
        headers=headers,
    )
    return api, ref


async def measure() -> dict[str, Any]:
    settings = spec.settings()
    owner = await asyncpg.connect(settings.migration_database_url.replace("+asyncpg", ""))
    started = time.perf_counter()
    print(f"setting up {DEALS} deals ...", flush=True)
    ctx = await setup(owner)
    await owner.close()
    # Each side moves deals of its own, each once (every move sends If-Match "1").
    open_deals = [d for d in ctx["deals"] if d[12] == "open"]
    ctx["service_deals"], ctx["reference_deals"] = iter(open_deals[0::2]), iter(open_deals[1::2])
    results: dict[str, Any] = {
        "deals": DEALS,
        "setup_s": round(time.perf_counter() - started, 1),
        "concurrency": CONCURRENCY,
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
    }
    pool = await asyncpg.create_pool(
        settings.database_url.replace("+asyncpg", ""), min_size=CONCURRENCY, max_size=CONCURRENCY
    )
    app = spec.create_app(settings)
    async with app.router.lifespan_context(app):
        api, ref = clients(ctx, pool, app)
        ours, theirs = service_calls(api, ctx), reference_calls(ref)
        sizes = {"lead_intake": INTAKES, "stage_change": MOVES, "forecast": FORECASTS}
        for path in PATHS:
            n, conc = sizes[path], CONCURRENCY if path != "forecast" else 1
            await timed(min(n, 20), conc, ours[path])  # warm caches and pools, not reported
            await timed(min(n, 20), conc, theirs[path])
            service, reference = (
                await timed(n, conc, ours[path]),
                await timed(n, conc, theirs[path]),
            )
            results[path] = {
                "service": service,
                "reference": reference,
                "ratio": round(service["per_s"] / reference["per_s"], 2),
            }
            print(path, json.dumps(results[path]), flush=True)
        await api.aclose()
        await ref.aclose()
    await pool.close()
    return results


# --- results ------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# opportunities benchmark",
        "",
        f"{results['deals']} deals; closed loop, {results['concurrency']} concurrent callers "
        "(forecast: 1); in-process ASGI. Reference: bare Starlette + the same JWT check + raw "
        "asyncpg doing the same work in the fewest statements, in the same run.",
        "",
        "| path | service /s | p50 ms | p99 ms | reference /s | p50 ms | p99 ms | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in PATHS:
        s, r = results[path]["service"], results[path]["reference"]
        lines.append(
            f"| {path} | {s['per_s']} | {s['p50_ms']} | {s['p99_ms']} | {r['per_s']} | "
            f"{r['p50_ms']} | {r['p99_ms']} | {results[path]['ratio']} |"
        )
    return (
        "\n".join(lines) + "\n\n![requests per second, service and reference](opportunities.svg)\n"
    )


def main() -> None:
    results = asyncio.run(measure())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "opportunities.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "opportunities.md").write_text(markdown(results))
    (RESULTS / "opportunities.svg").write_text(
        bar_chart(
            title=f"opportunities: requests per second ({results['deals']} deals)",
            y_label="requests/s",
            groups={
                path: {side: results[path][side]["per_s"] for side in ("service", "reference")}
                for path in PATHS
            },
        )
    )
    print((RESULTS / "opportunities.md").read_text())


if __name__ == "__main__":
    main()
