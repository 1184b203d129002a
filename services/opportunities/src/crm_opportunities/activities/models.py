from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_opportunities.database import Base, Versioned


class Activity(Base, Versioned):
    """A task, call or meeting, assigned to a user, optionally about a person, deal or lead."""

    __tablename__ = "activities"
    __table_args__ = (
        Index(
            "ix_activities_tenant_assignee_status_due",
            "tenant_id",
            "assignee_id",
            "status",
            "due_at",
        ),
    )

    kind: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee_id: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column()
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column()
    direction: Mapped[str] = mapped_column(String(8), default="outbound")
    status: Mapped[str] = mapped_column(String(8), default="open")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)
