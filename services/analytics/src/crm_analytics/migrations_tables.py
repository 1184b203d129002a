"""The tenant-scoped (row-level-secured) tables: the initial migration's, and later ones."""

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
    "customer_order_stats",
    "customer_scores",
    "invoices",
    "opportunities",
    "order_sequence",
    "orders",
    "survey_answers",
    "tickets",
    "timeline_entries",
]
