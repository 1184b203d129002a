"""Async engine, sessions and the constraint naming convention every service's models use."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, MetaData, String
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from crm_shared.ids import uuid7
from crm_shared.settings import ServiceSettings

# Stable constraint names, so Alembic migrations can refer to (and drop) them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class ServiceBase(DeclarativeBase):
    """Subclass once per service (with its own `metadata = new_metadata()`)."""

    __abstract__ = True


def utcnow() -> datetime:
    return datetime.now(UTC)


class TenantRow:
    """Columns every tenant-scoped table has (row-level security keys on `tenant_id`)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)


class Versioned(TenantRow):
    """An aggregate root edited over HTTP. `version` is SQLAlchemy's version counter: every
    UPDATE checks it, so two concurrent edits from the same base cannot both win."""

    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class SoftDeleted:
    """A tombstone instead of a DELETE (sync feeds and other services still see the record)."""

    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def create_engine(settings: ServiceSettings, *, migration: bool = False) -> AsyncEngine:
    url = settings.migration_database_url if migration else settings.database_url
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping (it costs a round trip per request): a dropped connection surfaces as
        # one 503, and SQLAlchemy then invalidates every pooled connection older than it.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"timeout": 5, "server_settings": {"application_name": settings.service}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under `session`. Use it only after a statement has run through
    the session (a UnitOfWork runs one on entry), so the transaction has begun: hot paths run
    their fixed SQL on it directly, since a statement through SQLAlchemy costs about three
    times the CPU of the same statement on the driver."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
