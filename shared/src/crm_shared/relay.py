"""Outbox relay: publishes committed outbox rows to Kafka, in order per key, at least once.

- Wakes on LISTEN/NOTIFY (the outbox trigger notifies at commit) with a polling fallback.
- Works lane by lane; a lane is processed only under its transaction-scoped advisory lock, and
  rows are claimed with FOR UPDATE SKIP LOCKED, so replicas share the lanes without ever
  publishing one key's rows concurrently (which could reorder them).
- Sends with an idempotent producer (acks=all) and marks rows published in the same
  transaction that claimed them; if Kafka fails, the transaction rolls back and rows stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_shared.kafka import new_producer
from crm_shared.metrics import OUTBOX_PUBLISHED
from crm_shared.outbox import LANES
from crm_shared.settings import ServiceSettings

log = logging.getLogger(__name__)
LOCK_NAMESPACE = 0x0B0C  # first key of pg_try_advisory_xact_lock(int, int): "outbox"

CLAIM = text(
    """
    SELECT seq, id, topic, key, type, source, subject, time, traceparent, tenant_id,
           data::text AS data
    FROM outbox
    WHERE published_at IS NULL AND lane = :lane
    ORDER BY seq
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
MARK = text("UPDATE outbox SET published_at = clock_timestamp() WHERE seq = ANY(:seqs)")
PURGE = text(
    "DELETE FROM outbox WHERE published_at < clock_timestamp() - make_interval(secs => :secs)"
)


def _headers(row: Any) -> list[tuple[str, bytes]]:
    pairs = [
        ("ce_specversion", "1.0"),
        ("ce_id", str(row.id)),
        ("ce_source", row.source),
        ("ce_type", row.type),
        ("ce_time", row.time.isoformat().replace("+00:00", "Z")),
        ("ce_tenantid", row.tenant_id),
        ("content-type", "application/json"),
    ]
    if row.subject:
        pairs.append(("ce_subject", row.subject))
    if row.traceparent:
        pairs.append(("traceparent", row.traceparent))
    return [(k, v.encode()) for k, v in pairs]


async def publish_lane(
    conn: AsyncConnection, producer: AIOKafkaProducer, lane: int, limit: int
) -> int:
    """Publish up to `limit` rows of one lane; returns how many were published."""
    async with conn.begin():
        locked = await conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:ns, :lane)"),
            {"ns": LOCK_NAMESPACE, "lane": lane},
        )
        if not locked:
            return 0  # another replica owns this lane right now
        rows = (await conn.execute(CLAIM, {"lane": lane, "limit": limit})).all()
        if not rows:
            return 0
        futures = [
            await producer.send(
                row.topic, value=row.data.encode(), key=row.key.encode(), headers=_headers(row)
            )
            for row in rows
        ]
        await asyncio.gather(*futures)  # raises if any send failed: the rows stay unpublished
        await conn.execute(MARK, {"seqs": [row.seq for row in rows]})
    for row in rows:
        OUTBOX_PUBLISHED.labels(topic=row.topic).inc()
    return len(rows)


async def publish_pending(
    engine: AsyncEngine, producer: AIOKafkaProducer, *, batch_size: int
) -> int:
    """One pass over every lane; returns the number of rows published."""
    total = 0
    async with engine.connect() as conn:
        for lane in range(LANES):
            total += await publish_lane(conn, producer, lane, batch_size)
    return total


async def purge_published(engine: AsyncEngine, retention_s: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(PURGE, {"secs": retention_s})


class OutboxRelay:
    def __init__(self, settings: ServiceSettings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen())
        try:
            while not self._stopping.is_set():
                producer = await self._start_producer()
                if producer is None:
                    break
                try:
                    await self._drain_forever(producer)
                except Exception as exc:  # Kafka or database trouble: back off, reconnect
                    log.warning("relay pass failed, retrying: %s: %s", type(exc).__name__, exc)
                    await self._sleep(2.0)
                finally:
                    await producer.stop()
        finally:
            listener.cancel()

    async def _start_producer(self) -> AIOKafkaProducer | None:
        delay = 0.5
        while not self._stopping.is_set():
            producer = new_producer(self.settings)
            try:
                await producer.start()
                return producer
            except Exception as exc:
                await producer.stop()
                log.warning("broker unavailable (%s), retrying in %.1fs", exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, 10.0)
        return None

    async def _drain_forever(self, producer: AIOKafkaProducer) -> None:
        last_purge = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            published = await publish_pending(
                self.engine, producer, batch_size=self.settings.relay_batch_size
            )
            if time.monotonic() - last_purge > 60:
                await purge_published(self.engine, self.settings.outbox_retention_s)
                last_purge = time.monotonic()
            if published == 0:
                await self._sleep(self.settings.relay_poll_interval_s, wakeable=True)

    async def _sleep(self, seconds: float, *, wakeable: bool = False) -> None:
        event = self._wake if wakeable else self._stopping
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def _listen(self) -> None:
        """Keep a LISTEN connection open; reconnect if the database goes away."""
        dsn = self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        while not self._stopping.is_set():
            try:
                conn = await asyncpg.connect(dsn, timeout=5)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN connection failed (%s); polling meanwhile", exc)
                await self._sleep(5.0)
                continue
            try:
                await conn.add_listener("outbox", lambda *_: self._wake.set())
                while not self._stopping.is_set() and not conn.is_closed():
                    await self._sleep(5.0)
            finally:
                await conn.close()
