"""The tenant-scoped tables the initial migration creates (and row-level-secures)."""

from __future__ import annotations

TENANT_TABLES = [
    "campaign_touches",
    "campaigns",
    "companies",
    "consents",
    "contact_aliases",
    "contact_companies",
    "contacts",
    "contract_ends",
    "contracts",
    "csat_scores",
    "customer_scores",
    "invoices",
    "opportunities",
    "orders",
    "survey_answers",
    "tickets",
    "timeline_entries",
]
