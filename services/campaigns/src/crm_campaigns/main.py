"""The campaigns service: its FastAPI app and its spec for the chassis (entry point)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_campaigns.calls.router import router as calls
from crm_campaigns.campaigns.router import router as campaigns
from crm_campaigns.handlers import SUBSCRIPTION
from crm_campaigns.segments.router import router as segments
from crm_campaigns.sending.worker import sender_job
from crm_campaigns.settings import CampaignsSettings
from crm_campaigns.surveys.router import router as surveys
from crm_campaigns.touches.router import router as touches
from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings
from crm_shared.web import create_service_app

DESCRIPTION = """Marketing: campaigns and the marketing calendar, dynamic segments and static
lists over a local projection of people (built from `crm.contacts.v1` and analytics'
segments), consent-aware audiences with a frequency cap, provider touch intake, sending and
effectiveness. Every change is published to `crm.campaigns.v1`."""


def create_app(settings: ServiceSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="CRM campaigns",
        description=DESCRIPTION,
        routers=[campaigns, segments, touches, calls, surveys],
    )


spec = ServiceSpec(
    name="campaigns",
    port=8003,
    title="CRM campaigns",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscription=SUBSCRIPTION,
    jobs=(sender_job,),
    settings_class=CampaignsSettings,
)
