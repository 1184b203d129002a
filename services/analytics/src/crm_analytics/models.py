"""Every table of the service, imported in one place (for Alembic and for tests)."""

from __future__ import annotations


def load_all() -> None:
    from crm_analytics.projections import models as _projections  # noqa: F401
