"""The opportunities service's declarative base; the column mixins come from the chassis."""

from __future__ import annotations

from crm_shared.db import ServiceBase, SoftDeleted, TenantRow, new_metadata, utcnow
from crm_shared.db import Versioned as _Versioned


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Versioned(_Versioned, SoftDeleted):
    """An aggregate root with optimistic versioning and a tombstone."""


__all__ = ["Base", "TenantRow", "Versioned", "utcnow"]
