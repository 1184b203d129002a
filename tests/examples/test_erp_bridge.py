"""The reference ERP bridge against the real broker: a won deal becomes an order, an invoice
and a contract on erp.orders.v1, exactly once, across a redelivery and a restart."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from crm_shared.events.catalog import ERP_ORDERS, OPPORTUNITIES
from crm_shared.events.envelope import Envelope, dumps
from crm_shared.events.opportunities import OpportunityWon, QuoteAccepted
from crm_shared.settings import ServiceSettings
from examples.erp_bridge.bridge import Bridge
from examples.erp_bridge.ledger import Ledger
from tests.conftest import eventually, settings_for_tests
from tests.kafka_helpers import TopicReader, produce


async def publish(settings: ServiceSettings, event: Envelope) -> None:
    headers = {k: v.decode() for k, v in event.headers()}
    await produce(settings, event.topic, key=event.key, value=dumps(event.data), headers=headers)


async def run_bridge(ledger: Path, group: str, inputs: list[Envelope]) -> None:
    settings = settings_for_tests("contacts")
    bridge = Bridge(
        bootstrap=settings.kafka_bootstrap_servers,
        ledger=Ledger(ledger),
        group=group,
        transactional_id=group,
        start="latest",
    )
    task = asyncio.create_task(bridge.run())

    async def assigned() -> bool:
        return bridge.assigned

    await eventually(assigned)
    for event in inputs:
        await publish(settings, event)
    await asyncio.sleep(2)
    bridge.stop()
    await asyncio.wait_for(task, 30)


async def test_won_deal_becomes_order_invoice_and_contract_once(
    tmp_path: Path, tenant: str
) -> None:
    settings = settings_for_tests("contacts")
    contact, opportunity = str(uuid.uuid4()), str(uuid.uuid4())
    quote = Envelope.wrap(
        QuoteAccepted(
            tenant_id=tenant,
            contact_id=contact,
            quote_id="q-1",
            opportunity_id=opportunity,
            total=Decimal("1234.50"),
            currency="PLN",
        ),
        source="/crm/opportunities",
    )
    won = Envelope.wrap(
        OpportunityWon(
            tenant_id=tenant,
            contact_id=contact,
            opportunity_id=opportunity,
            pipeline_id="p",
            amount=Decimal("1000"),
            currency="PLN",
            won_at=datetime.now(UTC),
        ),
        source="/crm/opportunities",
    )
    assert won.topic == quote.topic == OPPORTUNITIES
    ledger, group = tmp_path / "ledger.jsonl", f"erp-test-{uuid.uuid4().hex[:8]}"

    async with TopicReader(settings, ERP_ORDERS) as reader:
        await run_bridge(ledger, group, [quote, won, won])  # the won event delivered twice
        await run_bridge(ledger, group, [won])  # and again after a restart
        received = await reader.read(tenant=tenant, count=3, timeout=30, settle=2)

    types = sorted(r.headers["ce_type"] for r in received)
    assert types == ["erp.contract.started", "erp.invoice.paid", "erp.order.placed"]
    order = next(r for r in received if r.headers["ce_type"] == "erp.order.placed")
    assert order.data["total"] == "1234.50"  # priced from the accepted quote, not the deal
    assert order.key == contact and order.headers["ce_tenantid"] == tenant
    assert len(Ledger(ledger).orders) == 1
