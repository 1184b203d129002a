"""The analytics service's declarative base and column helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import ServiceBase, new_metadata


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class TenantKeyed:
    """Read-model rows are keyed by (tenant_id, <the producer's id>): replays overwrite, never
    duplicate. Row-level security keys on `tenant_id`."""

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)


def utcnow() -> datetime:
    return datetime.now(UTC)
