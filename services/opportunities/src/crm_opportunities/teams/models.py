from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_opportunities.database import Base, TenantRow, Versioned, utcnow


class Team(Base, Versioned):
    """A sales team; `parent_id` builds the organisation tree, `manager_id` is a user (JWT sub).
    `strategy` distributes routed leads among the members: round_robin or least_busy."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    manager_id: Mapped[str | None] = mapped_column(String(100), index=True)
    strategy: Mapped[str] = mapped_column(String(16), default="round_robin")
    rr_last_user: Mapped[str | None] = mapped_column(String(100))


class TeamMember(Base, TenantRow):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(100), index=True)
    capacity: Mapped[int | None] = mapped_column(Integer)  # open leads at most; None: no cap
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
