"""Campaigns benchmark: audience build over 1M projected people and touch intake throughput,
each against a same-run reference (hand-written SQL on raw asyncpg doing the same work).

    uv run crm migrate campaigns && uv run python services/campaigns/bench_campaigns.py

Uses the dev database (crm_campaigns) in a fresh tenant of its own and removes it afterwards.
BENCH_PEOPLE (default 1_000_000), BENCH_TOUCHES (3000), BENCH_CONCURRENCY (32).
Writes services/campaigns/bench-results.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from crm_campaigns.campaigns import service as campaigns
from crm_campaigns.campaigns.schemas import CampaignCreate, ContactPolicyBody
from crm_campaigns.main import spec
from crm_campaigns.segments import service as segments
from crm_campaigns.segments.schemas import SegmentCreate
from crm_shared.auth import mint_token
from crm_shared.uow import UnitOfWork

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
TOUCHES = int(os.environ.get("BENCH_TOUCHES", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
OUT = Path(__file__).parent / "bench-results.json"
INCLUDE = {
    "op": "and",
    "rules": [
        {"field": "tags", "operator": "has_any", "value": ["t0", "t1", "t2", "t3", "t4", "t5"]},
        {"field": "lifecycle_stage", "operator": "in", "value": ["customer", "lead"]},
    ],
}
EXCLUDE = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "DE"}]}

REFERENCE_BUILD = """
WITH classified AS (
  SELECT p.contact_id,
    CASE
      WHEN p.country = 'DE' THEN 'excluded_segment'
      WHEN p.do_not_contact THEN 'do_not_contact'
      WHEN NOT EXISTS (SELECT 1 FROM consents c WHERE c.tenant_id = p.tenant_id
             AND c.contact_id = p.contact_id AND c.channel = 'email'
             AND c.purpose = 'marketing' AND c.status = 'granted') THEN 'no_consent'
      WHEN p.email IS NULL THEN 'no_address'
      WHEN (SELECT count(*) FROM campaign_members o JOIN campaigns k ON k.id = o.campaign_id
            WHERE o.tenant_id = p.tenant_id AND o.contact_id = p.contact_id
              AND o.campaign_id <> $2 AND o.send_status <> 'suppressed'
              AND k.status <> 'cancelled'
              AND o.planned_at > $3::timestamptz - interval '30 days'
              AND o.planned_at < $3::timestamptz + interval '30 days') >= 1 THEN 'frequency_cap'
    END AS reason
  FROM people p
  WHERE p.version > 0 AND p.deleted_at IS NULL AND p.erased_at IS NULL
    AND p.tags && ARRAY['t0','t1','t2','t3','t4','t5']::varchar[]
    AND p.lifecycle_stage IN ('customer', 'lead')
), members AS (
  INSERT INTO campaign_members (tenant_id, campaign_id, contact_id, planned_at, send_status,
                                attempts)
  SELECT $1, $2, contact_id, $3, 'pending', 0 FROM classified WHERE reason IS NULL
  RETURNING 1
)
SELECT reason, count(*) FROM classified GROUP BY reason
UNION ALL SELECT '__members__', count(*) FROM members
"""

REFERENCE_TOUCH = [
    """INSERT INTO touches (id, tenant_id, provider_event_id, campaign_id, contact_id, kind,
         channel, occurred_at, recorded_at)
       VALUES ($1, $2, $3, $4, $5, 'delivered', 'email', now(), now())
       ON CONFLICT (tenant_id, provider_event_id) DO NOTHING RETURNING id""",
    """UPDATE campaign_members SET delivered_at = coalesce(delivered_at, now())
       WHERE campaign_id = $1 AND contact_id = $2""",
    """INSERT INTO outbox (id, tenant_id, topic, key, type, source, time, data)
       VALUES ($1, $2, 'crm.campaigns.v1', $3, $4, '/crm/campaigns', now(), $5::jsonb)""",
]


def dsn(url: str) -> str:
    return url.replace("+asyncpg", "")


async def load(owner: asyncpg.Connection, tenant: str) -> None:
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
          CASE WHEN abs(hashtext(contact_id::text)) % 5 = 0 THEN 'withdrawn' ELSE 'granted' END,
          now()
        FROM people WHERE tenant_id = $1
        """,
        tenant,
    )
    await owner.execute("ANALYZE people; ANALYZE consents")


async def service_build(
    sm: Any, tenant: str, seg: uuid.UUID, excl: uuid.UUID, start: str
) -> dict[str, Any]:
    async with UnitOfWork(sm, tenant_id=tenant, actor="bench", source="/crm/campaigns") as uow:
        campaign = await campaigns.create_campaign(
            uow,
            CampaignCreate.model_validate(
                {
                    "name": "bench",
                    "channel": "email",
                    "planned_start": start,
                    "segment_ids": [seg],
                    "exclude_segment_ids": [excl],
                }
            ),
        )
        cid = campaign.id
    began = time.perf_counter()
    async with UnitOfWork(sm, tenant_id=tenant, actor="bench", source="/crm/campaigns") as uow:
        report = await campaigns.build_audience(uow, cid)
    return {"seconds": time.perf_counter() - began, "report": report.model_dump(), "id": cid}


async def reference_build(app_dsn: str, tenant: str, start_text: str) -> dict[str, Any]:
    start = datetime.fromisoformat(start_text)
    conn = await asyncpg.connect(app_dsn)
    try:
        cid = uuid.uuid4()
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            await conn.execute(
                "INSERT INTO campaigns (id, tenant_id, name, channel, status, segment_ids, "
                "exclude_segment_ids, honour_preferred_channel, version, created_at, updated_at, "
                "planned_start) VALUES ($1, $2, 'ref', 'email', 'draft', '{}', '{}', false, 1, "
                "now(), now(), $3::timestamptz)",
                cid,
                tenant,
                start,
            )
        began = time.perf_counter()
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            rows = await conn.fetch(REFERENCE_BUILD, tenant, cid, start)
        return {
            "seconds": time.perf_counter() - began,
            "report": {r[0] or "member_candidates": r[1] for r in rows},
        }
    finally:
        await conn.close()


API_PORT = int(os.environ.get("BENCH_API_PORT", "18003"))
BASE = f"http://127.0.0.1:{API_PORT}"


def start_api() -> subprocess.Popen[bytes]:
    """The service as it runs in production: its own process (uvicorn, uvloop, httptools)."""
    env = os.environ | {"CAMPAIGNS_PORT": str(API_PORT), "CAMPAIGNS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm_shared.cli", "run", "campaigns", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", API_PORT), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the campaigns API did not start")


async def service_touches(app: Any, tenant: str, cid: uuid.UUID, people: list[uuid.UUID]) -> float:
    token = mint_token(app.state.settings, tenant=tenant, roles=["integration"], sub="bench")
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for p in people:
        queue.put_nowait(p)

    async def worker() -> None:
        async with httpx.AsyncClient(
            base_url=BASE,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            while not queue.empty():
                person = queue.get_nowait()
                body = {
                    "provider_event_id": f"svc-{person}",
                    "campaign_id": str(cid),
                    "contact_id": str(person),
                    "kind": "delivered",
                }
                response = await client.post("/v1/touches", json=body)
                assert response.status_code == 201, response.text

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(people) / (time.perf_counter() - began)


async def service_touch_batches(
    app: Any, tenant: str, cid: uuid.UUID, people: list[uuid.UUID], size: int = 100
) -> float:
    token = mint_token(app.state.settings, tenant=tenant, roles=["integration"], sub="bench")
    chunks = [people[i : i + size] for i in range(0, len(people), size)]
    queue: asyncio.Queue[list[uuid.UUID]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def worker() -> None:
        async with httpx.AsyncClient(
            base_url=BASE,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            while not queue.empty():
                chunk = queue.get_nowait()
                body = {
                    "touches": [
                        {
                            "provider_event_id": f"batch-{p}",
                            "campaign_id": str(cid),
                            "contact_id": str(p),
                            "kind": "opened",
                        }
                        for p in chunk
                    ]
                }
                response = await client.post("/v1/touches/batch", json=body)
                assert response.status_code == 200, response.text

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, 8))))
    return len(people) / (time.perf_counter() - began)


async def reference_touches(
    app_dsn: str, tenant: str, cid: uuid.UUID, people: list[uuid.UUID]
) -> float:
    pool = await asyncpg.create_pool(app_dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert pool is not None
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for p in people:
        queue.put_nowait(p)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                person = queue.get_nowait()
                async with conn.transaction():
                    await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
                    touch = uuid.uuid4()
                    inserted = await conn.fetchval(
                        REFERENCE_TOUCH[0], touch, tenant, f"ref-{person}", cid, person
                    )
                    if inserted is None:
                        continue
                    await conn.execute(REFERENCE_TOUCH[1], cid, person)
                    data = json.dumps({"tenant_id": tenant, "contact_id": str(person)})
                    for kind in ("crm.campaign.touch_recorded", "crm.interaction.logged"):
                        await conn.execute(
                            REFERENCE_TOUCH[2], uuid.uuid4(), tenant, str(person), kind, data
                        )

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    rate = len(people) / (time.perf_counter() - began)
    await pool.close()
    return rate


async def main() -> None:
    settings = spec.settings(log_level="WARNING", db_pool_size=CONCURRENCY)
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    owner = await asyncpg.connect(dsn(settings.migration_database_url))
    app = spec.create_app(settings)
    results: dict[str, Any] = {"people": PEOPLE, "tenant": tenant}
    try:
        began = time.perf_counter()
        await load(owner, tenant)
        results["load_seconds"] = round(time.perf_counter() - began, 1)
        print(f"loaded {PEOPLE} people in {results['load_seconds']} s", flush=True)
        async with app.router.lifespan_context(app):
            sm = app.state.sessionmaker
            async with UnitOfWork(sm, tenant_id=tenant, actor="bench", source="/x") as uow:
                await campaigns.set_policy(uow, ContactPolicyBody(max_touches=1, period_days=30))
                seg = (
                    await segments.create_segment(
                        uow,
                        SegmentCreate.model_validate(
                            {"name": "inc", "kind": "dynamic", "rules": INCLUDE}
                        ),
                    )
                ).id
                excl = (
                    await segments.create_segment(
                        uow,
                        SegmentCreate.model_validate(
                            {"name": "exc", "kind": "dynamic", "rules": EXCLUDE}
                        ),
                    )
                ).id
            first = await service_build(sm, tenant, seg, excl, "2027-05-01T09:00:00Z")
            print(
                f"service build 1 (no prior touches): {first['seconds']:.2f} s {first['report']}",
                flush=True,
            )
            ref1 = await reference_build(dsn(settings.database_url), tenant, "2027-03-01T09:00:00Z")
            print(f"reference build 1: {ref1['seconds']:.2f} s {ref1['report']}", flush=True)
            second = await service_build(sm, tenant, seg, excl, "2027-05-10T09:00:00Z")
            print(
                f"service build 2 (cap bites): {second['seconds']:.2f} s {second['report']}",
                flush=True,
            )
            ref2 = await reference_build(dsn(settings.database_url), tenant, "2027-05-12T09:00:00Z")
            print(f"reference build 2: {ref2['seconds']:.2f} s {ref2['report']}", flush=True)
            results["audience_build"] = {
                "service_s": [round(first["seconds"], 2), round(second["seconds"], 2)],
                "reference_s": [round(ref1["seconds"], 2), round(ref2["seconds"], 2)],
                "service_reports": [first["report"], second["report"]],
                "reference_reports": [ref1["report"], ref2["report"]],
            }
            await owner.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
            members = [
                r[0]
                for r in await owner.fetch(
                    "SELECT contact_id FROM campaign_members WHERE campaign_id = $1 LIMIT $2",
                    first["id"],
                    TOUCHES * 2,
                )
            ]
            api = start_api()
            try:
                svc_rate = await service_touches(app, tenant, first["id"], members[:TOUCHES])
                batch_rate = await service_touch_batches(
                    app, tenant, first["id"], members[:TOUCHES]
                )
            finally:
                api.terminate()
                api.wait(15)
            ref_rate = await reference_touches(
                dsn(settings.database_url), tenant, first["id"], members[TOUCHES:]
            )
            print(
                f"touch intake: service {svc_rate:.0f}/s one per request, "
                f"{batch_rate:.0f}/s in batches of 100; reference {ref_rate:.0f}/s",
                flush=True,
            )
            results["touch_intake"] = {
                "touches": TOUCHES,
                "concurrency": CONCURRENCY,
                "service_per_s": round(svc_rate),
                "service_batched_per_s": round(batch_rate),
                "reference_per_s": round(ref_rate),
                "ratio": round(svc_rate / ref_rate, 2),
            }
    finally:
        await owner.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
        for table in (
            "touches",
            "campaign_members",
            "campaigns",
            "segments",
            "consents",
            "people",
            "contact_policies",
        ):
            await owner.execute(f"DELETE FROM {table} WHERE tenant_id = $1", tenant)
        await owner.execute("DELETE FROM outbox WHERE tenant_id = $1", tenant)
        await owner.close()
    OUT.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
