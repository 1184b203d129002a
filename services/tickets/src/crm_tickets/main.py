"""The tickets service: its FastAPI app and its spec for the chassis (entry point)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings
from crm_shared.web import create_service_app
from crm_tickets.directory.router import router as assets
from crm_tickets.directory.service import ContactsClient
from crm_tickets.handlers import SUBSCRIPTION
from crm_tickets.queues.router import router as queues
from crm_tickets.reports.router import router as reports
from crm_tickets.settings import TicketsSettings
from crm_tickets.sla.router import router as sla
from crm_tickets.sla.scheduler import scheduler_job
from crm_tickets.tickets.router import csat, intake
from crm_tickets.tickets.router import router as tickets

DESCRIPTION = """Service desk: tickets from every channel (email webhook with threading, chat,
phone call logs, web, API), queues with automatic assignment, SLA policies by priority and
customer value tier on business-hours calendars, warnings, breaches and escalation, problems
and incidents, merges, assets under warranty from ERP orders, and CSAT after solving. Every
change is published to `crm.tickets.v1`. The SLA scheduler runs as
`crm run tickets consumer` (a background job)."""


def create_app(settings: ServiceSettings) -> FastAPI:
    async def on_startup(app: FastAPI) -> None:
        if not hasattr(app.state, "contacts"):
            app.state.contacts = ContactsClient(settings)

    return create_service_app(
        settings,
        title="CRM tickets",
        description=DESCRIPTION,
        routers=[tickets, intake, queues, sla, assets, reports, csat],
        on_startup=on_startup,
    )


spec = ServiceSpec(
    name="tickets",
    port=8004,
    title="CRM tickets",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscription=SUBSCRIPTION,
    jobs=(scheduler_job,),
    settings_class=TicketsSettings,
)
