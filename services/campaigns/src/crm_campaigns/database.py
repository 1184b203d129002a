"""The campaigns service's declarative base; the column mixins come from the chassis."""

from __future__ import annotations

from crm_shared.db import ServiceBase, TenantRow, Versioned, new_metadata, utcnow


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


__all__ = ["Base", "TenantRow", "Versioned", "utcnow"]
