from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_opportunities.database import Base, TenantRow, Versioned


class Pipeline(Base, Versioned):
    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(200))
    stages: Mapped[list[Stage]] = relationship(
        order_by="Stage.position", lazy="selectin", cascade="all, delete-orphan"
    )


class Stage(Base, TenantRow):
    """An ordered pipeline stage: `kind` open, won or lost; `probability` is a percentage."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("pipeline_id", "position"),)

    pipeline_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    probability: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    kind: Mapped[str] = mapped_column(String(8))
