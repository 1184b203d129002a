"""The contacts service: its FastAPI app and its spec for the chassis (entry point)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_contacts.companies.router import router as companies
from crm_contacts.consents.router import router as consents
from crm_contacts.custom_fields.router import router as custom_fields
from crm_contacts.exports.router import router as exports
from crm_contacts.gdpr.router import router as gdpr
from crm_contacts.handlers import SUBSCRIPTION
from crm_contacts.imports.router import router as imports
from crm_contacts.imports.runner import resume_job
from crm_contacts.interactions.router import router as interactions
from crm_contacts.merges.router import router as merges
from crm_contacts.ownership.router import router as ownership
from crm_contacts.people.router import router as people
from crm_contacts.settings import ContactsSettings
from crm_contacts.sync.retention import prune_job
from crm_contacts.sync.router import router as sync
from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings
from crm_shared.web import create_service_app

DESCRIPTION = """People and companies (with their hierarchy and the roles people hold in them),
the consent ledger, preferences, ownership, notes and interactions, and GDPR access and
erasure. Every change is published to `crm.contacts.v1`."""


def create_app(settings: ServiceSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="CRM contacts",
        description=DESCRIPTION,
        routers=[
            exports,  # before people/companies: `/export` is not an id
            people,
            companies,
            consents,
            interactions,
            gdpr,
            ownership,
            sync,
            merges,
            custom_fields,
            imports,
        ],
    )


spec = ServiceSpec(
    name="contacts",
    port=8001,
    title="CRM contacts",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscription=SUBSCRIPTION,
    jobs=(resume_job, prune_job),
    settings_class=ContactsSettings,
)
