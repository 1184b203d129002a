"""Segments: dynamic (a rule tree over the projection) or static (an explicit list)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_campaigns.database import Base, Versioned


class Segment(Base, Versioned):
    __tablename__ = "segments"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # dynamic | static
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ListEntry(Base):
    __tablename__ = "list_entries"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
