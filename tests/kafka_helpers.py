"""Reading what really reached the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from crm_shared.kafka import new_producer
from crm_shared.settings import ServiceSettings


@dataclass
class Received:
    key: str | None
    headers: dict[str, str]
    data: Any
    partition: int
    offset: int


class TopicReader:
    """Reads a topic from the offsets it had when opened, or from the beginning (no consumer
    group involved)."""

    def __init__(
        self, settings: ServiceSettings, topic: str, *, from_beginning: bool = False
    ) -> None:
        self.settings, self.topic, self.from_beginning = settings, topic, from_beginning
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
        )

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        cluster = await self.consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        assert tps, f"topic {self.topic} has no partitions (run `crm topics ensure`)"
        self.consumer.assign(tps)
        if self.from_beginning:
            await self.consumer.seek_to_beginning(*tps)
        else:
            for tp, offset in (await self.consumer.end_offsets(tps)).items():
                self.consumer.seek(tp, offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read(
        self,
        *,
        tenant: str,
        count: int,
        timeout: float = 60.0,
        settle: float = 1.0,
        where: Callable[[Received], bool] = lambda _: True,
    ) -> list[Received]:
        """Everything for `tenant` (and `where`) until `count` arrived, then `settle` seconds
        more (so an extra duplicate would be seen too)."""
        found: list[Received] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settle_until: float | None = None
        while loop.time() < (settle_until or deadline):
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    if headers.get("ce_tenantid") != tenant:
                        continue
                    received = Received(
                        r.key.decode() if r.key else None,
                        headers,
                        orjson.loads(r.value) if r.value else None,
                        r.partition,
                        r.offset,
                    )
                    if where(received):
                        found.append(received)
            if len(found) >= count and settle_until is None:
                settle_until = loop.time() + settle
        return found


async def produce(
    settings: ServiceSettings, topic: str, *, key: str, value: bytes, headers: dict[str, str]
) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value=value,
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()
