"""`crm analytics rebuild`: replay every topic from its start into fresh tables, then switch.

1. Build: a schema `analytics_rebuild` gets an empty copy of every projection table and of
   the inbox (columns, defaults, constraints and indexes under their own names, the app role's
   grants, the row-level-security policies). A reader under its own consumer group
   (`<live group>.rebuild`) assigns every partition, starts at the earliest offsets and
   applies each fetch with the chassis batch path, its sessions' search_path pointing at the
   new schema first. Its inbox rows carry the live group's name.
2. Catch up: read the end offsets and replay up to them, twice without any lock (the second
   pass is short), while the live consumer and the API go on with the live tables.
3. Switch, in one owner transaction: lock the live tables in EXCLUSIVE mode (reads go on, the
   live consumer's next write waits), replay the tail up to the end offsets read now
   (everything the live consumer ever committed is below them), count, then move the live
   tables to `analytics_retired_<time>` and the new ones to `public`. Statements waiting on
   the old tables resolve the names again and land in the new ones.
4. Hand over: the live group keeps its committed offsets. Whatever it re-reads or applies
   next that the replay already applied is a duplicate in the new inbox (same consumer name),
   so nothing is applied twice and nothing is missed.

Customer scores and the recompute schedule are derived by the scheduler, not projected from
events: they stay, and every tenant is marked due so the scores follow the new tables.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_analytics.migrations_tables import TENANT_TABLES
from crm_shared.consumer import ConsumerRunner, Subscription
from crm_shared.db import create_sessionmaker
from crm_shared.kafka import new_consumer, new_producer
from crm_shared.settings import ServiceSettings

BUILD_SCHEMA = "analytics_rebuild"
LIVE_SCHEMA = "public"
# Everything projected from events (scores are computed from these by the scheduler).
REBUILT_TABLES = [t for t in TENANT_TABLES if t != "customer_scores"] + ["inbox"]
SWITCH_ATTEMPTS = 5
SWITCH_LOCK_TIMEOUT = "3s"  # how long readers may queue behind the switch, at most

Progress = Callable[[int, int], None]  # (records read, records to read so far)


@dataclass
class TableCount:
    table: str
    rebuilt: int
    live: int


@dataclass
class Reconciliation:
    events_read: int = 0
    events_applied: int = 0  # new inbox rows: read minus duplicates and unknown types
    tables: list[TableCount] = field(default_factory=list)
    retired_schema: str | None = None  # kept with --keep-old

    @property
    def matches(self) -> bool:
        return all(t.rebuilt == t.live for t in self.tables)


def owner_dsn(settings: ServiceSettings) -> str:
    return settings.migration_database_url.replace("+asyncpg", "")


# --- the fresh tables -------------------------------------------------------------------------


async def create_build_schema(owner: asyncpg.Connection, app_role: str) -> None:
    await owner.execute(f"DROP SCHEMA IF EXISTS {BUILD_SCHEMA} CASCADE")
    await owner.execute(f"CREATE SCHEMA {BUILD_SCHEMA}")
    await owner.execute(f'GRANT USAGE ON SCHEMA {BUILD_SCHEMA} TO "{app_role}"')
    for table in REBUILT_TABLES:
        await copy_table(owner, table, app_role)


async def copy_table(
    owner: asyncpg.Connection, table: str, app_role: str, into: str = BUILD_SCHEMA
) -> None:
    """An empty copy of public.<table> in schema `into`, indexes and triggers named as there.
    Row-level security is enabled but not forced until the switch, so the owner can count."""
    live, new = f"{LIVE_SCHEMA}.{table}", f"{into}.{table}"
    await owner.execute(f"CREATE TABLE {new} (LIKE {live} INCLUDING ALL EXCLUDING INDEXES)")
    constraints = await owner.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x')",
        live,
    )
    for c in constraints:
        await owner.execute(f'ALTER TABLE {new} ADD CONSTRAINT "{c["conname"]}" {c["def"]}')
    indexes = await owner.fetch(
        "SELECT pg_get_indexdef(x.indexrelid) AS def FROM pg_index x WHERE x.indrelid = "
        "$1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
        "x.indexrelid)",
        live,
    )
    on_live = re.compile(rf" ON (?:{LIVE_SCHEMA}\.)?{table} ")
    # the indexes, and the triggers that keep derived tables (customer_order_stats) in step
    triggers = await owner.fetch(
        "SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = $1::regclass "
        "AND NOT tgisinternal",
        live,
    )
    for created in [*indexes, *triggers]:
        await owner.execute(on_live.sub(f" ON {new} ", created["def"], count=1))
    privileges = await owner.fetch(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = $1 AND table_name = $2 AND grantee = $3",
        LIVE_SCHEMA,
        table,
        app_role,
    )
    if privileges:
        granted = ", ".join(p["privilege_type"] for p in privileges)
        await owner.execute(f'GRANT {granted} ON TABLE {new} TO "{app_role}"')
    await copy_policies(owner, table, new)


async def copy_policies(owner: asyncpg.Connection, table: str, new: str) -> None:
    policies = await owner.fetch(
        "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
        "WHERE schemaname = $1 AND tablename = $2",
        LIVE_SCHEMA,
        table,
    )
    if not policies:
        return
    await owner.execute(f"ALTER TABLE {new} ENABLE ROW LEVEL SECURITY")
    for p in policies:
        roles = ", ".join(p["roles"])
        sql = f'CREATE POLICY "{p["policyname"]}" ON {new} AS {p["permissive"]} FOR {p["cmd"]}'
        sql += f" TO {roles}"
        if p["qual"]:
            sql += f" USING ({p['qual']})"
        if p["with_check"]:
            sql += f" WITH CHECK ({p['with_check']})"
        await owner.execute(sql)


async def forced_tables(owner: asyncpg.Connection, schema: str) -> set[str]:
    rows = await owner.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relforcerowsecurity",
        schema,
    )
    return {r["relname"] for r in rows}


async def count_rows(owner: asyncpg.Connection, schema: str) -> dict[str, int]:
    """Rows per table across tenants (the owner is not subject to unforced policies)."""
    return {
        table: await owner.fetchval(f"SELECT count(*) FROM {schema}.{table}")
        for table in REBUILT_TABLES
    }


# --- replaying --------------------------------------------------------------------------------


class Replay:
    """Reads every partition of the subscription from its start, applying as the live
    consumer does, and stops at given end offsets."""

    def __init__(
        self,
        settings: ServiceSettings,
        subscription: Subscription,
        engine: AsyncEngine,
        on_progress: Progress | None,
    ) -> None:
        live_group = settings.consumer_group
        self.group = f"{live_group}.rebuild"
        replay_settings = settings.model_copy(update={"kafka_group_id": self.group})
        self.topics = subscription.topics
        self.runner = ConsumerRunner(
            replay_settings,
            create_sessionmaker(engine),
            subscription,
            max_records=2000,
            inbox_name=live_group,
        )
        self.consumer: AIOKafkaConsumer = new_consumer(
            replay_settings, auto_offset_reset="earliest"
        )
        self.producer = new_producer(replay_settings)
        self.on_progress = on_progress
        self.read = 0
        self.total = 0  # records between the earliest offsets and the latest end offsets read
        self.first = 0
        self.partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        self.runner.producer = self.producer  # a record that fails again is dead-lettered again
        cluster = await self.consumer._client.fetch_all_metadata()
        self.partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_beginning(*self.partitions)
        starts = await self.consumer.beginning_offsets(self.partitions)
        self.first = sum(starts.values())

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def end_offsets(self) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        return ends

    async def until(self, ends: dict[TopicPartition, int]) -> None:
        """Apply every record below `ends`, a partition batch per transaction."""
        self.total = sum(ends.values()) - self.first
        while True:
            behind = [tp for tp in self.partitions if await self.consumer.position(tp) < ends[tp]]
            if not behind:
                return
            fetched = await self.consumer.getmany(*behind, timeout_ms=500, max_records=2000)
            batches = {}
            for tp, records in fetched.items():
                below = [r for r in records if r.offset < ends[tp]]
                if len(below) < len(records):  # read past the end: re-read those later
                    self.consumer.seek(tp, records[len(below)].offset)
                if below:
                    batches[tp] = below
            if batches:
                await self._apply(batches)

    async def _apply(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """One transaction for the whole fetch, as the live consumer does."""
        done = await self.runner.process_all(batches)
        if any(len(done.get(tp, [])) != len(records) for tp, records in batches.items()):
            raise RuntimeError("the replay was stopped")
        await self.consumer.commit({tp: records[-1].offset + 1 for tp, records in done.items()})
        self.read += sum(len(records) for records in done.values())
        if self.on_progress:
            self.on_progress(self.read, self.total)


# --- the switch -------------------------------------------------------------------------------


async def switch(owner: asyncpg.Connection, replay: Replay, retired: str) -> dict[str, int]:
    """Replay the tail with the live tables write-locked, then swap; returns the rebuilt
    counts at the switch."""
    live = ", ".join(f"{LIVE_SCHEMA}.{t}" for t in REBUILT_TABLES)
    to_force = await forced_tables(owner, LIVE_SCHEMA)
    async with owner.transaction():
        await owner.execute(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT}'")
        await owner.execute(f"LOCK TABLE {live} IN EXCLUSIVE MODE")
        await replay.until(await replay.end_offsets())
        rebuilt = await count_rows(owner, BUILD_SCHEMA)
        await owner.execute(f"CREATE SCHEMA {retired}")
        for table in REBUILT_TABLES:
            if table in to_force:
                await owner.execute(f"ALTER TABLE {BUILD_SCHEMA}.{table} FORCE ROW LEVEL SECURITY")
            await owner.execute(f"ALTER TABLE {LIVE_SCHEMA}.{table} SET SCHEMA {retired}")
            await owner.execute(f"ALTER TABLE {BUILD_SCHEMA}.{table} SET SCHEMA {LIVE_SCHEMA}")
    return rebuilt


async def switch_with_retries(
    owner: asyncpg.Connection, replay: Replay, retired: str
) -> dict[str, int]:
    for attempt in range(1, SWITCH_ATTEMPTS + 1):
        try:
            return await switch(owner, replay, retired)
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
            if attempt == SWITCH_ATTEMPTS:
                raise
            await asyncio.sleep(attempt)  # a long report or recompute holds the tables
    raise AssertionError("unreachable")


async def live_counts_after(owner: asyncpg.Connection, retired: str) -> dict[str, int]:
    """Count the retired tables (nobody writes them any more) past their policies."""
    for table in REBUILT_TABLES:
        await owner.execute(f"ALTER TABLE {retired}.{table} NO FORCE ROW LEVEL SECURITY")
    return await count_rows(owner, retired)


async def rebuild(
    settings: ServiceSettings,
    subscription: Subscription,
    *,
    on_progress: Progress | None = None,
    keep_old: bool = False,
) -> Reconciliation:
    owner = await asyncpg.connect(owner_dsn(settings))
    engine = create_async_engine(
        settings.database_url,
        pool_size=2,
        connect_args={"server_settings": {"search_path": f"{BUILD_SCHEMA}, {LIVE_SCHEMA}"}},
    )
    replay = Replay(settings, subscription, engine, on_progress)
    retired = f"analytics_retired_{datetime.now(UTC):%Y%m%d%H%M%S}"
    try:
        await create_build_schema(owner, settings.app_role)
        await replay.start()
        for _ in range(2):  # the bulk, then what arrived meanwhile
            await replay.until(await replay.end_offsets())
        rebuilt = await switch_with_retries(owner, replay, retired)
        live = await live_counts_after(owner, retired)
        applied = rebuilt["inbox"]
        await owner.execute("UPDATE score_schedule SET requests = requests + 1")
        if not keep_old:
            await owner.execute(f"DROP SCHEMA {retired} CASCADE")
        return Reconciliation(
            events_read=replay.read,
            events_applied=applied,
            tables=[TableCount(t, rebuilt[t], live[t]) for t in REBUILT_TABLES],
            retired_schema=retired if keep_old else None,
        )
    finally:
        await replay.stop()
        await engine.dispose()
        await owner.execute(f"DROP SCHEMA IF EXISTS {BUILD_SCHEMA} CASCADE")
        await owner.close()
