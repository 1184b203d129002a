"""Every table of the service, imported in one place (for Alembic and for tests)."""

from __future__ import annotations


def load_all() -> None:
    from crm_campaigns.calls import models as _calls  # noqa: F401
    from crm_campaigns.campaigns import models as _campaigns  # noqa: F401
    from crm_campaigns.projection import models as _projection  # noqa: F401
    from crm_campaigns.segments import models as _segments  # noqa: F401
    from crm_campaigns.surveys import models as _surveys  # noqa: F401
    from crm_campaigns.touches import models as _touches  # noqa: F401
