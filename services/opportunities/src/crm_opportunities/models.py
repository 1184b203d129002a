"""Every table of the service, imported in one place (for Alembic and for tests)."""

from __future__ import annotations


def load_all() -> None:
    from crm_opportunities.activities import models as _activities  # noqa: F401
    from crm_opportunities.deals import models as _deals  # noqa: F401
    from crm_opportunities.leads import models as _leads  # noqa: F401
    from crm_opportunities.pipelines import models as _pipelines  # noqa: F401
    from crm_opportunities.quotes import models as _quotes  # noqa: F401
    from crm_opportunities.teams import models as _teams  # noqa: F401
