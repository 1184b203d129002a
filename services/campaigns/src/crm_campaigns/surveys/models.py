"""Loyalty / NPS surveys and their answers (one per person per survey)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_campaigns.database import Base, TenantRow, utcnow


class Survey(Base, TenantRow):
    __tablename__ = "surveys"

    name: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SurveyResponse(Base, TenantRow):
    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "survey_id", "contact_id"),)

    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    repurchase_intent: Mapped[str | None] = mapped_column(String(16))
    nps_score: Mapped[int | None] = mapped_column(Integer)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
