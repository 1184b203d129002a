"""SLA policies, business-hours calendars and the per-ticket timers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_tickets.database import Base, TenantRow, Versioned, utcnow


class SlaPolicy(Base, Versioned):
    """Targets in business minutes; `priority` / `value_tier` null means "any"."""

    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(16))
    value_tier: Mapped[str | None] = mapped_column(String(16))
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    warning_share: Mapped[float] = mapped_column(Float, default=0.8)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    escalate_priority: Mapped[bool] = mapped_column(Boolean, default=False)
    escalate_queue_id: Mapped[uuid.UUID | None] = mapped_column()
    # Tickets under this policy are at least this urgent (a key customer's "normal" is "high").
    minimum_priority: Mapped[str | None] = mapped_column(String(16))


class BusinessCalendar(Base, TenantRow):
    """One per tenant: time zone, weekly hours {"mon": [["09:00", "17:00"]], ...}, holidays."""

    __tablename__ = "business_calendars"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    timezone: Mapped[str] = mapped_column(String(64))
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    holidays: Mapped[list[str]] = mapped_column(JSONB, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SlaTimer(Base):
    """One SLA target of one ticket. Not tenant-scoped on purpose (like the outbox): the
    scheduler claims due timers across tenants with FOR UPDATE SKIP LOCKED. It holds ids and
    instants only, never PII; every API read filters on tenant_id explicitly."""

    __tablename__ = "sla_timers"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "cycle"),
        Index(
            "ix_sla_timers_warn_due",
            "warn_at",
            postgresql_where="warned_at IS NULL AND stopped_at IS NULL",
        ),
        Index(
            "ix_sla_timers_due",
            "due_at",
            postgresql_where="breached_at IS NULL AND stopped_at IS NULL",
        ),
        Index("ix_sla_timers_tenant_ticket", "tenant_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID] = mapped_column()
    target: Mapped[str] = mapped_column(String(16))  # first_response|next_response|resolution
    cycle: Mapped[int] = mapped_column(Integer, default=0)  # next_response: one per wait
    budget_s: Mapped[int] = mapped_column(Integer)
    consumed_s: Mapped[float] = mapped_column(Float, default=0.0)
    warning_share: Mapped[float] = mapped_column(Float)
    business_hours: Mapped[bool] = mapped_column(Boolean)
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    met: Mapped[bool | None] = mapped_column(Boolean)


class SlaEmission(Base):
    """The emitted marker: one row per (timer, kind), written in the same transaction as the
    outbox row, so a warning or breach is published once whatever the scheduler does."""

    __tablename__ = "sla_emissions"
    __table_args__ = (UniqueConstraint("timer_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    timer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # warning | breach
    emitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scheduler: Mapped[str | None] = mapped_column(String(100))
