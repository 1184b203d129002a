from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_contacts.database import Base, TenantRow, utcnow


class ConsentEntry(Base, TenantRow):
    """Append-only consent ledger: the application role may insert and read, never change."""

    __tablename__ = "consent_ledger"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_event_id"),
        Index(
            "ix_consent_ledger_person",
            "tenant_id",
            "person_id",
            "channel",
            "purpose",
            "captured_at",
        ),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # granted | withdrawn
    source: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    source_event_id: Mapped[str | None] = mapped_column(String(64))


class ConsentVoid(Base, TenantRow):
    """An entry that no longer counts (a merge that copied it was undone). Append-only too:
    the ledger keeps every entry as written and the void says why it stopped counting."""

    __tablename__ = "consent_voids"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_ledger.id"), unique=True)
    merge_id: Mapped[uuid.UUID | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(100))
    voided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
