"""Telemarketing call lists built from a campaign's audience."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_campaigns.database import Base, TenantRow, utcnow


class CallList(Base, TenantRow):
    __tablename__ = "call_lists"

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    agent_ids: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallEntry(Base):
    __tablename__ = "call_entries"
    __table_args__ = (Index("ix_call_entries_agent", "tenant_id", "call_list_id", "agent_id"),)

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("call_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    value_tier: Mapped[str | None] = mapped_column(String(32))
    agent_id: Mapped[str] = mapped_column(String(100))
    # reached | no_answer | call_back | not_interested | interested
    outcome: Mapped[str | None] = mapped_column(String(16))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lead_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
