"""Every table of the service, imported in one place (for Alembic and for tests)."""

from __future__ import annotations


def load_all() -> None:
    from crm_contacts.companies import models as _companies  # noqa: F401
    from crm_contacts.consents import models as _consents  # noqa: F401
    from crm_contacts.custom_fields import models as _custom_fields  # noqa: F401
    from crm_contacts.imports import models as _imports  # noqa: F401
    from crm_contacts.interactions import models as _interactions  # noqa: F401
    from crm_contacts.merges import models as _merges  # noqa: F401
    from crm_contacts.people import models as _people  # noqa: F401
