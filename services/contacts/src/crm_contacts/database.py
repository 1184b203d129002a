"""The contacts service's declarative base; the column mixins come from the chassis."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from crm_shared.db import ServiceBase, SoftDeleted, TenantRow, new_metadata, utcnow
from crm_shared.db import Versioned as _Versioned
from crm_shared.errors import Conflict
from crm_shared.uow import UnitOfWork


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Versioned(_Versioned, SoftDeleted):
    """An aggregate root with optimistic versioning and a tombstone."""


async def ensure_external_id_free(
    uow: UnitOfWork, model: Any, external_id: str | None, exclude: uuid.UUID | None, noun: str
) -> None:
    """An external id names one person or company of the tenant (deleted ones keep theirs):
    a clear 409 naming the holder. The unique constraint still decides races."""
    if not external_id:
        return
    query = select(model.id).where(model.external_id == external_id)
    if exclude is not None:
        query = query.where(model.id != exclude)
    if holder := await uow.session.scalar(query):
        raise Conflict(
            f"The external id {external_id} belongs to another {noun}.",
            extra={"conflicting_id": str(holder), "field": "external_id"},
        )


__all__ = ["Base", "TenantRow", "Versioned", "ensure_external_id_free", "utcnow"]
