"""Every table of the service, imported in one place (for Alembic and for tests)."""

from __future__ import annotations


def load_all() -> None:
    from crm_tickets.directory import models as _directory  # noqa: F401
    from crm_tickets.queues import models as _queues  # noqa: F401
    from crm_tickets.sla import models as _sla  # noqa: F401
    from crm_tickets.tickets import models as _tickets  # noqa: F401
