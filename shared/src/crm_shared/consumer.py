"""Kafka consumer runner with exactly-once effect on the service's database.

For each fetched batch (up to `max_records` over every assigned partition): one transaction
claims every event id in the inbox with one statement (a duplicate is skipped) and runs the
handlers, switching the tenant only where it changes; offsets are committed only after that
transaction commits. If the batch fails, each partition's records are tried as a batch of
their own, and a partition batch that fails is replayed message by message with bounded
retries; a message that still fails (or cannot be parsed) goes to `<topic>.dlq` with the error
in its headers, and the partition moves on. Unknown event types are counted and skipped.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_shared.events.catalog import dlq_topic
from crm_shared.events.envelope import InboundEvent, MalformedEvent
from crm_shared.kafka import new_consumer, new_producer
from crm_shared.metrics import CONSUMER_LAG, CONSUMER_PROCESSED, DLQ_MESSAGES
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, InboundEvent], Awaitable[None]]
INBOX_CLAIM = (
    "INSERT INTO inbox (consumer, event_id, topic) "
    "SELECT $1, e.id, e.topic FROM unnest($2::text[], $3::text[]) "
    "AS e(id, topic) ON CONFLICT DO NOTHING RETURNING event_id"
)


@dataclass(frozen=True)
class Subscription:
    """What one service consumes: handlers by (topic, CloudEvents type), and optionally what
    to run after a batch's handlers, before its commit (for handlers that buffer writes), and
    how many records a batch may hold (handlers that buffer write faster in larger ones)."""

    handlers: Mapping[tuple[str, str], Handler] = field(default_factory=dict)
    before_commit: Callable[[UnitOfWork], Awaitable[None]] | None = None
    max_records: int = 500

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({topic for topic, _ in self.handlers}))


class _Outcome(Exception):
    """A message that must go to the DLQ."""


class _RevokeGuard(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hold a rebalance until the batch in flight is committed (or abandoned)."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned partitions: %s", sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))


class ConsumerRunner:
    def __init__(
        self,
        settings: ServiceSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        subscription: Subscription,
        *,
        max_records: int | None = None,
        inbox_name: str | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.subscription = subscription
        self.group = settings.consumer_group
        # the inbox's consumer name: a replay under a group of its own dedupes with the live one
        self.inbox_name = inbox_name or self.group
        self.max_records = max_records or subscription.max_records
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None

    def stop(self) -> None:
        self._stopping.set()

    @property
    def assigned(self) -> bool:
        return self.consumer is not None and bool(self.consumer.assignment())

    async def run(self) -> None:
        # What the process loaded so far (modules, mappers, schemas) lives as long as it does:
        # left to the collector, every full collection walks it again, which cost a consumer
        # batch as much CPU as its handlers.
        gc.freeze()
        while not self._stopping.is_set():
            try:
                await self._run_session()
            except (KafkaError, OSError) as exc:
                log.warning("consumer lost the broker (%s); reconnecting", exc)
                await asyncio.sleep(2)

    async def _run_session(self) -> None:
        consumer = new_consumer(self.settings)
        producer = new_producer(self.settings)
        consumer.subscribe(list(self.subscription.topics), listener=_RevokeGuard(self._lock))
        await producer.start()
        try:
            await consumer.start()
            self.consumer, self.producer = consumer, producer
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
                async with self._lock:
                    done = await self.process_all(batches)
                    # on a stop, only what was applied; the rest is re-read
                    await self._commit(
                        consumer, {tp: d[-1].offset + 1 for tp, d in done.items() if d}
                    )
                await self._record_lag(consumer)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError:
            # Partitions moved during a rebalance; the new owner re-reads and the inbox dedupes.
            log.info("commit for %s lost to a rebalance", sorted(map(str, offsets)))

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None:
                lag = max(end - await consumer.position(tp), 0)
                CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(lag)

    # --- processing ------------------------------------------------------------------------

    async def process_all(
        self, batches: Mapping[TopicPartition, list[ConsumerRecord]]
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Apply a fetch's records in one transaction, else partition by partition (`process`);
        returns the records done per partition."""
        if self._stopping.is_set() or not batches:
            return {}
        if len(batches) > 1:
            try:
                await self._apply([r for records in batches.values() for r in records])
                return dict(batches)
            except Exception as exc:
                log.info("batch over %d partitions failed (%s); by partition", len(batches), exc)
        return {tp: await self.process(tp, records) for tp, records in batches.items()}

    async def process(
        self, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> list[ConsumerRecord]:
        """Apply one partition's batch; returns the records done (all unless stopping). Public
        for readers that assign partitions themselves (a replay)."""
        if self._stopping.is_set():
            return []
        try:
            await self._apply(records)
            return records
        except Exception as exc:
            log.info("batch of %d on %s failed (%s); retrying one by one", len(records), tp, exc)
        done = []
        for record in records:
            if not await self._process_one(record):
                break
            done.append(record)
        return done

    async def _process_one(self, record: ConsumerRecord) -> bool:
        """Apply one record with retries, else dead-letter it; False if stopped meanwhile."""
        attempts, error = 0, None
        while attempts <= self.settings.consumer_max_retries:
            if self._stopping.is_set():
                return False
            attempts += 1
            try:
                await self._apply([record])
                return True
            except _Outcome as exc:
                error = exc.__cause__ or exc
                break  # not retryable
            except ValidationError as exc:
                error = exc
                break  # data that does not fit its schema will not fit it on a retry either
            except Exception as exc:
                error = exc
                await asyncio.sleep(self.settings.consumer_retry_backoff_s * attempts)
        assert error is not None
        await self._to_dlq(record, error, attempts)
        return True

    async def _apply(self, records: list[ConsumerRecord]) -> None:
        """Apply records in one transaction; raises if any handler fails. Grouped by tenant (a
        stable sort: each tenant's events keep their order) so the tenant switches rarely."""
        events = sorted((self._parse(r) for r in records), key=lambda e: e.tenant_id)
        async with UnitOfWork(
            self.sessionmaker,
            tenant_id=events[0].tenant_id,
            actor=None,
            source=self.settings.source,
        ) as uow:
            claimed = await self._claim(uow, events)
            outcomes = [await self._handle(uow, event, claimed) for event in events]
            if self.subscription.before_commit is not None:
                await self.subscription.before_commit(uow)
        counts = Counter(
            (event.topic, outcome) for event, outcome in zip(events, outcomes, strict=True)
        )
        for (topic, outcome), count in counts.items():
            CONSUMER_PROCESSED.labels(self.group, topic, outcome).inc(count)

    def _parse(self, record: ConsumerRecord) -> InboundEvent:
        try:
            return InboundEvent.from_record(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                headers=record.headers,
            )
        except MalformedEvent as exc:
            raise _Outcome() from exc

    async def _claim(self, uow: UnitOfWork, events: list[InboundEvent]) -> set[str]:
        """Record the handled events in the inbox; returns the ids not seen before."""
        handled = [e for e in events if (e.topic, e.type) in self.subscription.handlers]
        if not handled:
            return set()
        driver = await uow.driver()  # fixed SQL on the hot path: no SQLAlchemy in between
        rows = await driver.fetch(
            INBOX_CLAIM, self.inbox_name, [e.id for e in handled], [e.topic for e in handled]
        )
        return {row[0] for row in rows}

    async def _handle(self, uow: UnitOfWork, event: InboundEvent, claimed: set[str]) -> str:
        handler = self.subscription.handlers.get((event.topic, event.type))
        if handler is None:
            return "unknown_type"
        if event.id not in claimed:
            return "duplicate"
        claimed.discard(event.id)  # a second copy in the same batch is a duplicate too
        if event.tenant_id != uow.tenant_id:
            await uow.switch_tenant(event.tenant_id)
        await handler(uow, event)
        return "processed"

    async def _to_dlq(self, record: ConsumerRecord, error: BaseException, attempts: int) -> None:
        assert self.producer is not None
        headers = [
            *list(record.headers),
            ("x-error-type", type(error).__name__.encode()),
            ("x-error-message", str(error)[:1000].encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer-group", self.group.encode()),
            ("x-attempts", str(attempts).encode()),
        ]
        await self.producer.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        DLQ_MESSAGES.labels(self.group, record.topic).inc()
        CONSUMER_PROCESSED.labels(self.group, record.topic, "dead_lettered").inc()
        log.error(
            "sent %s:%s@%s to the DLQ after %d attempt(s): %s",
            record.topic,
            record.partition,
            record.offset,
            attempts,
            error,
        )
