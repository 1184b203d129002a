from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_opportunities.database import Base, TenantRow, Versioned, utcnow


class Opportunity(Base, Versioned):
    __tablename__ = "opportunities"
    __table_args__ = (
        Index("ix_opportunities_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_opportunities_tenant_status_close", "tenant_id", "status", "expected_close_date"),
    )

    name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[uuid.UUID] = mapped_column(index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    owner_id: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    probability_override: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    probability: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # effective
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    source_campaign_id: Mapped[str | None] = mapped_column(String(100))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(Text)


class StageChange(Base, TenantRow):
    """One row per stage move (the first row has no `from_stage_id`): sales-cycle analysis."""

    __tablename__ = "stage_changes"

    opportunity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    from_stage_id: Mapped[uuid.UUID | None] = mapped_column()
    to_stage_id: Mapped[uuid.UUID] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(100))


class LineItem(Base, TenantRow):
    __tablename__ = "line_items"

    opportunity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))


class Order(Base, TenantRow):
    """An ERP order (from erp.orders.v1), linked to the deal it references when there is one."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("tenant_id", "order_id"),)

    order_id: Mapped[str] = mapped_column(String(100))
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
