from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_contacts.database import Base, TenantRow, Versioned


class Company(Base, Versioned):
    __tablename__ = "companies"
    __table_args__ = (
        Index("ix_companies_tenant_parent", "tenant_id", "parent_id"),
        UniqueConstraint("tenant_id", "external_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253))
    industry: Mapped[str | None] = mapped_column(String(100))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(2))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL")
    )
    owner_id: Mapped[str | None] = mapped_column(String(100))
    relationship_level: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    external_id: Mapped[str | None] = mapped_column(String(200))  # another system's key


class Role(Base, TenantRow):
    """A person's role in a company (many to many, with a period)."""

    __tablename__ = "person_company_roles"
    __table_args__ = (Index("ix_person_company_roles_company", "tenant_id", "company_id"),)

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
