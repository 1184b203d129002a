"""Consume won deals and accepted quotes, "create" orders, publish erp.orders.v1 exactly once.

Exactly once, end to end: the bridge reads `crm.opportunities.v1` with read_committed and
publishes with a transactional producer; the output events and the consumed offsets commit in
one Kafka transaction, so after a crash either both happened or neither did. Event and order
ids are derived from the input event (uuid5), so even a replay yields the same ids, and a
redelivered input event (same `ce_id`) is recognised from the ledger and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, date, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from crm_shared.events.catalog import ERP_ORDERS, OPPORTUNITIES
from crm_shared.events.envelope import Envelope, EventData, InboundEvent, dumps
from crm_shared.events.erp import ContractEnded, ContractStarted, InvoicePaid, OrderPlaced
from crm_shared.events.opportunities import OpportunityWon, QuoteAccepted
from examples.erp_bridge.ledger import Ledger

log = logging.getLogger("erp_bridge")
NAMESPACE = uuid.UUID("5b0c1f6e-2f1d-4c55-9a3e-6d1f4c7e9a10")
SOURCE = "/erp/bridge"
CONTRACT_MONTHS = 12


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def envelope(data: EventData, *parts: str) -> Envelope:
    """A CloudEvent whose id is a function of what caused it (replays give the same id)."""
    wrapped = Envelope.wrap(data, source=SOURCE)
    return Envelope(**{**wrapped.__dict__, "id": derived_id("event", *parts, data.type)})


class Bridge:
    def __init__(
        self,
        *,
        bootstrap: str,
        ledger: Ledger,
        group: str = "erp-bridge",
        transactional_id: str = "erp-bridge",
        start: str = "earliest",
    ) -> None:
        self.ledger = ledger
        self.bootstrap, self.group, self.transactional_id = bootstrap, group, transactional_id
        self.start = start
        self.consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Until stopped; a broker outage ends the session, and a new one starts after it."""
        while not self._stopping.is_set():
            try:
                await self._session()
            except KafkaError as exc:
                log.warning("broker trouble (%s); reconnecting", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 2)

    async def _session(self) -> None:
        consumer = AIOKafkaConsumer(
            OPPORTUNITIES,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset=self.start,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, transactional_id=self.transactional_id
        )
        await producer.start()
        try:
            await consumer.start()
            self.consumer = consumer
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=300)
                for tp, records in batches.items():
                    await self._transform(producer, tp, records)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _transform(
        self, producer: AIOKafkaProducer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        """Outputs and the consumed offset in one Kafka transaction; the ledger follows it."""
        try:
            async with producer.transaction():
                for record in records:
                    for out in self.handle(record):
                        await producer.send(
                            out.topic,
                            key=out.key.encode(),
                            headers=out.headers(),
                            value=dumps(out.data),
                        )
                await producer.send_offsets_to_transaction({tp: records[-1].offset + 1}, self.group)
        except BaseException:
            self.ledger.discard()
            raise
        self.ledger.flush()

    @property
    def assigned(self) -> bool:
        return self.consumer is not None and bool(self.consumer.assignment())

    def handle(self, record: ConsumerRecord) -> Iterable[Envelope]:
        event = InboundEvent.from_record(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        if event.id in self.ledger.handled:
            return []
        if event.type == QuoteAccepted.type:
            quote = QuoteAccepted.model_validate(event.data)
            self.ledger.stage(
                {
                    "kind": "quote",
                    "event_id": event.id,
                    "opportunity_id": quote.opportunity_id,
                    "total": str(quote.total),
                    "currency": quote.currency,
                }
            )
            return []
        if event.type == OpportunityWon.type:
            return self.place_order(event.id, OpportunityWon.model_validate(event.data))
        return []

    def place_order(self, event_id: str, won: OpportunityWon) -> list[Envelope]:
        quote = self.ledger.quotes.get(won.opportunity_id)
        total = Decimal(quote["total"]) if quote else (won.amount or Decimal(0))
        currency = quote["currency"] if quote else (won.currency or "EUR")
        order_id = derived_id("order", won.opportunity_id)
        now = won.won_at.astimezone(UTC)
        self.ledger.stage(
            {
                "kind": "order",
                "event_id": event_id,
                "order_id": order_id,
                "opportunity_id": won.opportunity_id,
                "contact_id": won.contact_id,
                "total": str(total),
                "currency": currency,
            }
        )
        common = {
            "tenant_id": won.tenant_id,
            "contact_id": won.contact_id,
            "company_id": won.company_id,
        }
        starts = now.date()
        return [
            envelope(
                OrderPlaced(
                    **common,
                    order_id=order_id,
                    opportunity_id=won.opportunity_id,
                    placed_at=now,
                    total=total,
                    currency=currency,
                ),
                order_id,
            ),
            envelope(
                InvoicePaid(
                    **common,
                    invoice_id=derived_id("invoice", order_id),
                    order_id=order_id,
                    paid_at=now + timedelta(minutes=1),
                    amount=total,
                    currency=currency,
                ),
                order_id,
            ),
            envelope(
                ContractStarted(
                    **common,
                    contract_id=derived_id("contract", order_id),
                    starts_on=starts,
                    ends_on=_add_months(starts),
                ),
                order_id,
            ),
        ]


def contract_ended(
    *, tenant_id: str, contact_id: str, contract_id: str, ended_on: date, renewed: bool
) -> Envelope:
    return envelope(
        ContractEnded(
            tenant_id=tenant_id,
            contact_id=contact_id,
            contract_id=contract_id,
            ended_on=ended_on,
            renewed=renewed,
        ),
        contract_id,
        str(ended_on),
    )


def _add_months(day: date, months: int = CONTRACT_MONTHS) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


async def publish_contract_end(bootstrap: str, event: Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            ERP_ORDERS, key=event.key.encode(), headers=event.headers(), value=dumps(event.data)
        )
    finally:
        await producer.stop()
