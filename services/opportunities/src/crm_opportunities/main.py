"""The opportunities service: its FastAPI app and its spec for the chassis (entry point)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_opportunities.activities.router import router as activities
from crm_opportunities.deals.router import router as deals
from crm_opportunities.forecast.router import router as forecast
from crm_opportunities.handlers import SUBSCRIPTION
from crm_opportunities.leads.contacts_client import ContactsClient, ContactsSettings
from crm_opportunities.leads.router import router as leads
from crm_opportunities.pipelines.router import router as pipelines
from crm_opportunities.quotes.router import router as quotes
from crm_opportunities.teams.router import router as teams
from crm_opportunities.transfers.router import router as transfers
from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings
from crm_shared.web import create_service_app

DESCRIPTION = """Sales: leads (API and web-to-lead forms, duplicate flag, routing rules, round
robin / least busy with capacity, conversion into contacts), teams with record visibility,
pipelines and deals with their stage history, bulk ownership transfers, products, price lists
and quotes, sales activities, and the weighted forecast. Every change is published to
`crm.opportunities.v1`."""


def create_app(settings: ServiceSettings) -> FastAPI:
    app = create_service_app(
        settings,
        title="CRM opportunities",
        description=DESCRIPTION,
        routers=[leads, teams, pipelines, deals, quotes, activities, forecast, transfers],
    )
    contacts = ContactsSettings()
    # Replace `app.state.contacts` to point conversion elsewhere (tests use an ASGI transport).
    app.state.contacts = ContactsClient(
        contacts.contacts_url, timeout_s=contacts.contacts_timeout_s
    )
    return app


spec = ServiceSpec(
    name="opportunities",
    port=8002,
    title="CRM opportunities",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscription=SUBSCRIPTION,
)
