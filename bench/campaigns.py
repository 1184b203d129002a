"""`make bench` (BENCH=campaigns): the campaigns service against same-run references.

1. Audience build over BENCH_PEOPLE (1M) projected people, through the API, against one
   hand-written SQL statement on raw asyncpg doing the same classification and insert. Each side
   builds twice in a window of its own: `fresh` (nobody planned yet) and `capped` (the tenant's
   frequency cap of one touch per 30 days now excludes everyone the first build took).
2. Touch intake: provider callbacks (POST /v1/touches, a new provider event id each) under
   closed-loop load (vegeta at rate 0: each of W workers sends its next request as soon as the
   last one is answered), for W in BENCH_WORKERS, on the service's API process and on a bare
   Starlette + asyncpg app (`reference_app` below) doing the same work with the service's own
   SQL statement (token check; campaign and membership check, the touch inserted once and the
   member updated in one statement; two outbox rows), so the ratio is the cost of the
   machinery. The service's batch endpoint (100 callbacks a request) is measured too.

Uses the dev database (crm_campaigns) in a tenant of its own, removed afterwards. Writes
bench/results/campaigns.{json,md,svg}.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench._load import attack as vegeta_attack
from bench._load import start_server
from bench.chart import line_chart
from crm_campaigns.touches.service import RECORD_SQL
from crm_shared.auth import mint_token
from crm_shared.ids import uuid7
from crm_shared.outbox import INSERT_OUTBOX
from crm_shared.settings import DEV_JWT_SECRET

RESULTS = Path(__file__).parent / "results"
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
WORKERS = [int(w) for w in os.environ.get("BENCH_WORKERS", "1,8,32").split(",")]
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "8"))
BATCH = 100
APP_DSN = os.environ.get(
    "REFERENCE_DSN", "postgresql://crm_app:crm_app@127.0.0.1:5432/crm_campaigns"
)
OWNER_DSN = APP_DSN.replace("crm_app:crm_app", "crm_owner:crm_owner")
SERVICE_PORT, REFERENCE_PORT = 18003, 18004
POOL_SIZE = 20
TAGS = ["t0", "t1", "t2", "t3", "t4", "t5"]
INCLUDE = {
    "op": "and",
    "rules": [
        {"field": "tags", "operator": "has_any", "value": TAGS},
        {"field": "lifecycle_stage", "operator": "in", "value": ["customer", "lead"]},
    ],
}
EXCLUDE = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "DE"}]}
# Each side builds in a window of its own, the second build inside the first one's 30 days.
WINDOWS = {
    "service": ("2027-05-01T09:00:00+00:00", "2027-05-10T09:00:00+00:00"),
    "reference": ("2027-01-01T09:00:00+00:00", "2027-01-10T09:00:00+00:00"),
}

REFERENCE_BUILD = """
WITH at_cap AS (
  SELECT o.contact_id FROM campaign_members o JOIN campaigns k ON k.id = o.campaign_id
  WHERE o.tenant_id = $1 AND o.campaign_id <> $2 AND o.send_status <> 'suppressed'
    AND k.status <> 'cancelled'
    AND o.planned_at > $3::timestamptz - interval '30 days'
    AND o.planned_at < $3::timestamptz + interval '30 days'
  GROUP BY o.contact_id HAVING count(*) >= 1
), classified AS (
  SELECT p.contact_id,
    CASE
      WHEN p.country = 'DE' THEN 'excluded_segment'
      WHEN p.do_not_contact THEN 'do_not_contact'
      WHEN NOT EXISTS (SELECT 1 FROM consents c WHERE c.tenant_id = p.tenant_id
             AND c.contact_id = p.contact_id AND c.channel = 'email'
             AND c.purpose = 'marketing' AND c.status = 'granted') THEN 'no_consent'
      WHEN p.email IS NULL THEN 'no_address'
      WHEN a.contact_id IS NOT NULL THEN 'frequency_cap'
    END AS reason
  FROM people p LEFT JOIN at_cap a ON a.contact_id = p.contact_id
  WHERE p.version > 0 AND p.deleted_at IS NULL AND p.erased_at IS NULL
    AND p.tags && $4::varchar[] AND p.lifecycle_stage IN ('customer', 'lead')
), members AS (
  INSERT INTO campaign_members (tenant_id, campaign_id, contact_id, planned_at, send_status,
                                attempts)
  SELECT $1, $2, contact_id, $3, 'pending', 0 FROM classified WHERE reason IS NULL
  RETURNING 1
)
SELECT reason, count(*) FROM classified GROUP BY reason
UNION ALL SELECT 'members', count(*) FROM members
"""

# --- the touch-intake reference: the same SQL with the least machinery ------------------------

POOL: dict[str, asyncpg.Pool] = {}


def _reference_tenant(request: Request) -> str:
    token = request.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(
        token, DEV_JWT_SECRET, algorithms=["HS256"], options={"require": ["exp", "sub", "tid"]}
    )
    if not {"integration", "marketer"} & set(claims["roles"]):
        return ""
    return str(claims["tid"])


def _outbox_rows(tenant: str, touch: dict[str, Any], name: str) -> list[tuple[object, ...]]:
    person, at = touch["contact_id"], touch["occurred_at"]
    recorded = touch | {"tenant_id": tenant, "touch_id": touch["id"]}
    logged = {
        "tenant_id": tenant,
        "contact_id": person,
        "interaction_id": touch["id"],
        "channel": touch["channel"],
        "direction": "outbound",
        "kind": "campaign_touch",
        "occurred_at": at,
        "summary": f"{name}: {touch['kind']}",
        "source": {"service": "campaigns", "entity": "campaign", "id": touch["campaign_id"]},
        "campaign_id": touch["campaign_id"],
    }
    return [
        (
            uuid7(),
            tenant,
            "crm.campaigns.v1",
            person,
            kind,
            "/crm/campaigns",
            None,
            datetime.fromisoformat(at),
            None,
            json.dumps(data),
        )
        for kind, data in (
            ("crm.campaign.touch_recorded", recorded),
            ("crm.interaction.logged", logged),
        )
    ]


async def reference_touch(request: Request) -> Response:
    tenant = _reference_tenant(request)
    if not tenant:
        return JSONResponse({"detail": "forbidden"}, status_code=403)
    body = json.loads(await request.body())
    campaign_id, person = uuid.UUID(body["campaign_id"]), uuid.UUID(body["contact_id"])
    at = datetime.now(UTC)
    touch_id = uuid7()
    async with POOL["db"].acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        [result] = await conn.fetch(
            RECORD_SQL,
            tenant,
            at,
            [touch_id],
            [body["provider_event_id"]],
            [campaign_id],
            [person],
            [body["kind"]],
            [at],
            [None],
        )
        if not result["member"]:
            return JSONResponse({"detail": "not a member"}, status_code=422)
        if not result["created"]:
            return JSONResponse({"detail": "duplicate"}, status_code=200)
        touch = {
            "id": str(touch_id),
            "provider_event_id": body["provider_event_id"],
            "campaign_id": str(campaign_id),
            "contact_id": str(person),
            "kind": body["kind"],
            "channel": result["channel"],
            "occurred_at": at.isoformat(),
            "url": None,
        }
        await conn.executemany(INSERT_OUTBOX, _outbox_rows(tenant, touch, result["name"]))
    return JSONResponse(touch | {"recorded_at": at.isoformat()}, status_code=201)


@asynccontextmanager
async def _reference_lifespan(app: Starlette) -> AsyncIterator[None]:
    POOL["db"] = await asyncpg.create_pool(APP_DSN, min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    await POOL["db"].close()


reference_app = Starlette(
    routes=[Route("/v1/touches", reference_touch, methods=["POST"])],
    lifespan=_reference_lifespan,
)

# --- servers, load and measurements --------------------------------------------------------

SERVERS = {
    "service": (SERVICE_PORT, [sys.executable, "-m", "crm_shared.cli", "run", "campaigns", "api"]),
    "reference": (
        REFERENCE_PORT,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.campaigns:reference_app",
            "--port",
            str(REFERENCE_PORT),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
    ),
}


def start(server: str) -> subprocess.Popen[bytes]:
    port, command = SERVERS[server]
    env = {
        "CAMPAIGNS_PORT": str(port),
        "CAMPAIGNS_LOG_LEVEL": "WARNING",
        # the reference's pool: 20 connections kept open (the default 10 + 10 overflow would
        # open and close a connection per request above 10 concurrent ones)
        "CAMPAIGNS_DB_POOL_SIZE": str(POOL_SIZE),
        "CAMPAIGNS_DB_MAX_OVERFLOW": "0",
    }
    return start_server(command, env, port)


@dataclass
class Run:
    server: str
    path: str
    workers: int
    requests_per_s: float
    touches_per_s: float
    success: float
    p50_ms: float
    p99_ms: float


def _targets(port: int, token: str, path: str, campaign: str, people: list[str]) -> Path:
    """Enough unique callbacks for the run (a new provider event id each), as vegeta targets."""
    header = {"Authorization": [f"Bearer {token}"], "Content-Type": ["application/json"]}
    per_request = BATCH if path == "batch" else 1
    count = DURATION_S * 5000 // per_request
    run = uuid.uuid4().hex[:8]

    def callback(i: int) -> dict[str, str]:
        return {
            "provider_event_id": f"{run}-{i}",
            "campaign_id": campaign,
            "contact_id": people[i % len(people)],
            "kind": "delivered",
        }

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for n in range(count):
            if path == "batch":
                body: Any = {"touches": [callback(n * BATCH + i) for i in range(BATCH)]}
                url = f"http://127.0.0.1:{port}/v1/touches/batch"
            else:
                body, url = callback(n), f"http://127.0.0.1:{port}/v1/touches"
            encoded = base64.b64encode(json.dumps(body).encode()).decode()
            target = {"method": "POST", "url": url, "header": header, "body": encoded}
            handle.write(json.dumps(target) + "\n")
    return Path(handle.name)


def attack(
    server: str, path: str, workers: int, token: str, campaign: str, people: list[str]
) -> Run:
    target_file = _targets(SERVERS[server][0], token, path, campaign, people)
    figures = vegeta_attack(
        target_file,
        "-rate=0",
        f"-workers={workers}",
        f"-max-workers={workers}",
        f"-duration={DURATION_S}s",
        "-timeout=30s",
    )
    per_request = BATCH if path == "batch" else 1
    return Run(
        server,
        path,
        workers,
        round(figures["throughput"], 1),
        round(figures["throughput"] * per_request, 1),
        figures["success"],
        round(figures["latencies"]["50th"] / 1e6, 2),
        round(figures["latencies"]["99th"] / 1e6, 2),
    )


async def load(tenant: str) -> None:
    """BENCH_PEOPLE projected people; 80% granted email marketing consent."""
    owner = await asyncpg.connect(OWNER_DSN)
    try:
        await owner.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
        await owner.execute(
            """
            INSERT INTO people (tenant_id, contact_id, version, first_name, email, phone, country,
              lifecycle_stage, tags, company_ids, attributes, do_not_contact)
            SELECT $1, gen_random_uuid(), 1, 'P' || i,
              CASE WHEN i % 97 = 0 THEN NULL ELSE 'p' || i || '@bench.example' END,
              '+48601' || lpad((i % 1000000)::text, 6, '0'),
              (ARRAY['PL','DE','FR','GB','US'])[1 + i % 5],
              (ARRAY['customer','lead','prospect'])[1 + i % 3],
              ARRAY['t' || (i % 10)]::varchar[], '{}'::varchar[], '{}'::jsonb, i % 50 = 0
            FROM generate_series(1, $2) AS i
            """,
            tenant,
            PEOPLE,
        )
        await owner.execute(
            """
            INSERT INTO consents (tenant_id, contact_id, channel, purpose, status, captured_at)
            SELECT tenant_id, contact_id, 'email', 'marketing',
              CASE WHEN abs(hashtext(contact_id::text)) % 5 = 0 THEN 'withdrawn'
                   ELSE 'granted' END, now()
            FROM people WHERE tenant_id = $1
            """,
            tenant,
        )
        await owner.execute("ANALYZE people; ANALYZE consents")
    finally:
        await owner.close()


TENANT_TABLES = (
    "touches",
    "campaign_members",
    "campaigns",
    "segments",
    "consents",
    "people",
    "contact_policies",
)


async def clean(tenant: str) -> None:
    owner = await asyncpg.connect(OWNER_DSN)
    try:
        await owner.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
        for table in TENANT_TABLES:
            await owner.execute(f"DELETE FROM {table} WHERE tenant_id = $1", tenant)
        await owner.execute("DELETE FROM send_jobs WHERE tenant_id = $1", tenant)
        await owner.execute("DELETE FROM outbox WHERE tenant_id = $1", tenant)
    finally:
        await owner.close()


def service_builds(api: httpx.Client) -> tuple[list[float], list[dict[str, Any]], str]:
    """Both builds through the API; returns their seconds, reports and the first campaign."""
    assert api.put("/v1/contact-policy", json={"max_touches": 1, "period_days": 30}).is_success
    segments = [
        api.post("/v1/segments", json={"name": name, "kind": "dynamic", "rules": rules}).json()[
            "id"
        ]
        for name, rules in (("include", INCLUDE), ("exclude", EXCLUDE))
    ]
    seconds, reports, campaigns = [], [], []
    for start in WINDOWS["service"]:
        body = {
            "name": f"bench {start[:10]}",
            "channel": "email",
            "planned_start": start,
            "segment_ids": [segments[0]],
            "exclude_segment_ids": [segments[1]],
        }
        campaign = api.post("/v1/campaigns", json=body).json()["id"]
        began = time.perf_counter()
        response = api.post(f"/v1/campaigns/{campaign}/audience")
        seconds.append(round(time.perf_counter() - began, 2))
        assert response.status_code == 200, response.text
        reports.append(response.json())
        campaigns.append(campaign)
        print(f"service build {start[:10]}: {seconds[-1]} s {reports[-1]}", flush=True)
    return seconds, reports, campaigns[0]


async def reference_builds(tenant: str) -> tuple[list[float], list[dict[str, int]]]:
    conn = await asyncpg.connect(APP_DSN)
    seconds, reports = [], []
    try:
        for start_text in WINDOWS["reference"]:
            start, campaign = datetime.fromisoformat(start_text), uuid7()
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
                await conn.execute(
                    "INSERT INTO campaigns (id, tenant_id, name, channel, status, segment_ids, "
                    "exclude_segment_ids, honour_preferred_channel, version, created_at, "
                    "updated_at, planned_start) VALUES ($1, $2, 'reference', 'email', 'draft', "
                    "'{}', '{}', false, 1, now(), now(), $3)",
                    campaign,
                    tenant,
                    start,
                )
            began = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
                rows = await conn.fetch(REFERENCE_BUILD, tenant, campaign, start, TAGS)
            seconds.append(round(time.perf_counter() - began, 2))
            reports.append({r[0] or "candidates_kept": r[1] for r in rows})
            print(f"reference build {start_text[:10]}: {seconds[-1]} s {reports[-1]}", flush=True)
    finally:
        await conn.close()
    return seconds, reports


async def settle() -> None:
    """Statistics and visibility caught up with the builds' half a million new members, as
    autovacuum would shortly: the touch runs then measure intake, not maintenance."""
    owner = await asyncpg.connect(OWNER_DSN)
    try:
        await owner.execute("VACUUM ANALYZE campaign_members, campaigns, touches")
    finally:
        await owner.close()


async def member_ids(tenant: str, campaign: str, limit: int = 50_000) -> list[str]:
    conn = await asyncpg.connect(APP_DSN)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            rows = await conn.fetch(
                "SELECT contact_id FROM campaign_members WHERE campaign_id = $1 LIMIT $2",
                uuid.UUID(campaign),
                limit,
            )
    finally:
        await conn.close()
    return [str(r[0]) for r in rows]


def touch_runs(token: str, campaign: str, people: list[str]) -> list[Run]:
    """Both servers up at once; each load level runs on one and then the other, so a change
    in the machine's background load hits both sides alike."""
    runs: list[Run] = []
    for server in SERVERS:  # warm pools and caches, not reported
        attack(server, "single", 4, token, campaign, people)
    for workers in WORKERS:
        for server, path in (("service", "single"), ("reference", "single"), ("service", "batch")):
            run = attack(server, path, workers, token, campaign, people)
            runs.append(run)
            print(
                f"{server:9} {path:6} {workers:3} workers -> {run.touches_per_s:8.1f} touches/s "
                f"ok {run.success:.2%} p50 {run.p50_ms:7.1f} ms p99 {run.p99_ms:7.1f} ms",
                flush=True,
            )
    return runs


def measure(tenant: str) -> dict[str, Any]:
    load_at_start = round(os.getloadavg()[0], 1)
    began = time.perf_counter()
    asyncio.run(load(tenant))
    print(f"loaded {PEOPLE} people in {time.perf_counter() - began:.0f} s", flush=True)
    marketer = mint_token(DEV_JWT_SECRET, tenant=tenant, roles=["marketer"], ttl_s=7200)
    provider = mint_token(DEV_JWT_SECRET, tenant=tenant, roles=["integration"], ttl_s=7200)
    procs = [start(server) for server in SERVERS]
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{SERVICE_PORT}",
            headers={"Authorization": f"Bearer {marketer}"},
            timeout=900,
        ) as api:
            service_s, service_reports, campaign = service_builds(api)
        reference_s, reference_reports = asyncio.run(reference_builds(tenant))
        asyncio.run(settle())
        people = asyncio.run(member_ids(tenant, campaign))
        runs = touch_runs(provider, campaign, people)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(15)
    return {
        "load_1m_at_start": load_at_start,
        "audience": {
            "builds": ["fresh", "capped"],
            "service_s": service_s,
            "reference_s": reference_s,
            "service_reports": service_reports,
            "reference_reports": reference_reports,
        },
        "touches": [asdict(r) for r in runs],
    }


def best(runs: list[dict[str, Any]], server: str, path: str) -> dict[str, Any] | None:
    mine = [r for r in runs if r["server"] == server and r["path"] == path and r["success"] > 0.99]
    return max(mine, key=lambda r: r["touches_per_s"], default=None)


def summarise(figures: dict[str, Any]) -> dict[str, Any]:
    audience = figures["audience"]
    ours, ref = (
        best(figures["touches"], "service", "single"),
        best(figures["touches"], "reference", "single"),
    )
    batched = best(figures["touches"], "service", "batch")
    return {
        "audience_build_ratio": [
            round(r / s, 2)
            for s, r in zip(audience["service_s"], audience["reference_s"], strict=True)
        ],
        "touches_per_s": {
            "service": ours["touches_per_s"] if ours else None,
            "service_batched": batched["touches_per_s"] if batched else None,
            "reference": ref["touches_per_s"] if ref else None,
            "ratio": round(ours["touches_per_s"] / ref["touches_per_s"], 2)
            if ours and ref
            else None,
        },
    }


def markdown(document: dict[str, Any]) -> str:
    audience, summary = document["audience"], document["summary"]
    lines = [
        "# campaigns benchmark",
        "",
        f"{document['people']:,} projected people; machine: {document['machine']} (load: "
        "1-minute load average at start and end; the machine is shared, so compare the two "
        "sides of one run, not runs).",
        "",
        "## Audience build",
        "",
        "Segments (tags, lifecycle) minus an exclusion segment, consent, do-not-contact, "
        "address and a frequency cap of 1 per 30 days; members stored. Service: "
        "POST /v1/campaigns/{id}/audience. Reference: one SQL statement on raw asyncpg. "
        "Ratio = reference time / service time (1.0 = as fast).",
        "",
        "| build | service s | reference s | ratio | members (service/reference) |",
        "|---|---|---|---|---|",
    ]
    for i, build in enumerate(audience["builds"]):
        lines.append(
            f"| {build} | {audience['service_s'][i]} | {audience['reference_s'][i]} | "
            f"{summary['audience_build_ratio'][i]} | {audience['service_reports'][i]['members']}"
            f"/{audience['reference_reports'][i].get('members', 0)} |"
        )
    touches = summary["touches_per_s"]
    lines += [
        "",
        "## Touch intake",
        "",
        f"Closed loop (vegeta rate 0), {DURATION_S} s per run, one `delivered` callback per "
        "request with a new provider event id; one uvicorn worker each, same database and SQL. "
        f"Best: service {touches['service']}/s, reference {touches['reference']}/s "
        f"(ratio {touches['ratio']}); service batch endpoint ({BATCH} a request) "
        f"{touches['service_batched']} touches/s.",
        "",
        "| server | endpoint | workers | requests/s | touches/s | success | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['server']} | {r['path']} | {r['workers']} | {r['requests_per_s']} | "
        f"{r['touches_per_s']} | {r['success']:.2%} | {r['p50_ms']} | {r['p99_ms']} |"
        for r in document["touches"]
    ]
    return "\n".join(lines) + "\n\n![touch intake by workers](campaigns.svg)\n"


def chart(runs: list[dict[str, Any]]) -> str:
    """One callback per request, service against reference (batches are in the table: on
    the same scale they would flatten the comparison that matters)."""
    return line_chart(
        title="campaigns: touch intake by concurrent callers (higher is better)",
        x_label="workers (closed loop)",
        y_label="touches/s",
        series={
            server: [
                (r["workers"], r["touches_per_s"])
                for r in runs
                if r["server"] == server and r["path"] == "single"
            ]
            for server in ("service", "reference")
        },
    )


def main() -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        figures = measure(tenant)
    finally:
        asyncio.run(clean(tenant))
    document = {
        "people": PEOPLE,
        "duration_s": DURATION_S,
        "machine": {
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_1m": [figures.pop("load_1m_at_start"), round(os.getloadavg()[0], 1)],
        },
        **figures,
    }
    document["summary"] = summarise(figures)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "campaigns.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "campaigns.md").write_text(markdown(document))
    (RESULTS / "campaigns.svg").write_text(chart(document["touches"]))
    print((RESULTS / "campaigns.md").read_text())


if __name__ == "__main__":
    main()
