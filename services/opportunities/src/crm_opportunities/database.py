"""The opportunities service's declarative base and column helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from crm_shared.db import ServiceBase, new_metadata
from crm_shared.ids import uuid7


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class TenantRow:
    """Columns every tenant-scoped table has (row-level security keys on `tenant_id`)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Versioned(TenantRow):
    """An aggregate root edited over HTTP. `version` is SQLAlchemy's version counter: every
    UPDATE checks it, so two concurrent edits from the same base cannot both win."""

    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]
