"""The analytics service: its FastAPI app and its spec for the chassis (entry point)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_analytics.customers.router import router as customers
from crm_analytics.handlers import SUBSCRIPTION
from crm_analytics.measures.router import router as measures
from crm_analytics.measures.router import scores_router
from crm_analytics.scores.schedule import score_job
from crm_analytics.settings import AnalyticsSettings
from crm_analytics.timeline.router import router as timeline
from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings
from crm_shared.web import create_service_app

DESCRIPTION = """The omnichannel customer timeline, customer 360 and the customer measures
(retention, churn, loyalty indexes, NPS, RFM, CLV, Pareto concentration, loyalty typology,
sales and service levels), computed from every service's events and the ERP's. Publishes
`crm.customer.segment_changed` and `crm.customer.churn_risk_changed` to `crm.analytics.v1`."""


def create_app(settings: ServiceSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="CRM analytics",
        description=DESCRIPTION,
        routers=[timeline, customers, measures, scores_router],
    )


spec = ServiceSpec(
    name="analytics",
    port=8005,
    title="CRM analytics",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscription=SUBSCRIPTION,
    jobs=(score_job,),
    settings_class=AnalyticsSettings,
)
