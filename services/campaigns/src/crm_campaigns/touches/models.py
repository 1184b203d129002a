"""Provider callbacks, deduplicated by the provider's event id."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_campaigns.database import Base, TenantRow, utcnow


class Touch(Base, TenantRow):
    __tablename__ = "touches"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider_event_id"),
        Index("ix_touches_campaign", "tenant_id", "campaign_id", "kind"),
    )

    provider_event_id: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[uuid.UUID]
    contact_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    url: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
