"""`crm seed` fills a tenant through the public APIs (in-process apps here) and the ERP topic."""

from __future__ import annotations

import contextlib
import uuid

from crm_shared.events.catalog import ERP_ORDERS
from crm_shared.kafka import new_producer
from crm_shared.seed import Seeder, kafka_publisher
from tests.conftest import client, running_app
from tests.kafka_helpers import TopicReader


async def test_seed_fills_a_tenant_through_the_apis() -> None:
    tenant = f"seed-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        apps = {
            name: await stack.enter_async_context(running_app(name))
            for name in ("contacts", "opportunities", "tickets", "campaigns")
        }
        clients = {
            name: await stack.enter_async_context(client(app, tenant)) for name, app in apps.items()
        }
        settings = apps["contacts"].state.settings
        producer = new_producer(settings)
        await producer.start()
        stack.push_async_callback(producer.stop)
        reader = await stack.enter_async_context(TopicReader(settings, ERP_ORDERS))

        seeder = Seeder(clients, tenant, kafka_publisher(producer), seed=3)
        companies, pipeline, stages = await seeder.prepare(3)
        for number in range(12):
            await seeder.customer(number, companies, pipeline, stages)
        report = seeder.report
        orders = await reader.read(tenant=tenant, count=2 * report.orders, timeout=30)

        people = (await clients["contacts"].get("/v1/people", params={"limit": 200})).json()
        assert len(people["items"]) == report.people == 12
        assert report.companies == 3 and report.deals_won + report.deals_lost > 0
        deals = await clients["opportunities"].get("/v1/opportunities", params={"limit": 200})
        assert len(deals.json()["items"]) == report.deals_won + report.deals_lost
        campaigns = await clients["campaigns"].get("/v1/campaigns", params={"limit": 200})
        assert len(campaigns.json()["items"]) == report.campaigns == 3
        tickets = await clients["tickets"].get("/v1/tickets", params={"limit": 200})
        assert len(tickets.json()["items"]) == report.tickets
        assert sorted({r.headers["ce_type"] for r in orders}) == (
            ["erp.invoice.paid", "erp.order.placed"] if report.orders else []
        )
        assert len(orders) == 2 * report.orders
        assert not report.errors
        assert report.deals_won > 0 and report.orders == report.deals_won
