from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_contacts.database import Base, TenantRow, utcnow


class Merge(Base, TenantRow):
    """A merge of duplicates into a survivor, with what is needed to undo it."""

    __tablename__ = "merges"

    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    merged_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    choices: Mapped[dict[str, Any]] = mapped_column(JSONB)
    undo: Mapped[dict[str, Any]] = mapped_column(JSONB)
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
