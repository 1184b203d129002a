"""Queues and their members (agents with a capacity)."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_tickets.database import Base, TenantRow, Versioned


class Queue(Base, Versioned):
    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    strategy: Mapped[str] = mapped_column(String(16))  # round_robin | least_busy | manual
    last_assigned: Mapped[str | None] = mapped_column(String(100))


class QueueMember(Base, TenantRow):
    __tablename__ = "queue_members"
    __table_args__ = (UniqueConstraint("tenant_id", "queue_id", "agent_id"),)

    queue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(String(100))
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
