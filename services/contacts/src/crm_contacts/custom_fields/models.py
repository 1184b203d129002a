from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_contacts.database import Base, TenantRow, utcnow


class CustomField(Base, TenantRow):
    """A tenant's own field on people or companies; values live in `attributes[key]`."""

    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("tenant_id", "entity", "key"),)

    entity: Mapped[str] = mapped_column(String(16))  # person | company
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    default: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
