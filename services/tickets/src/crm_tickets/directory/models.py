"""Read models of other services' data: contacts (for matching), value tiers, assets, and
what a contact merge repointed (so that its undo can move it back)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.merge_repoints import MergeRepointColumns
from crm_tickets.database import Base, TenantRow, utcnow


class KnownContact(Base, TenantRow):
    """Projection of crm.contacts.v1 people: just what requester matching needs."""

    __tablename__ = "known_contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "contact_id"),
        Index("ix_known_contacts_emails", "emails", postgresql_using="gin"),
        Index("ix_known_contacts_phones", "phones", postgresql_using="gin"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    emails: Mapped[list[str]] = mapped_column(ARRAY(String(320)), default=list)
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CustomerTier(Base, TenantRow):
    """The value tier analytics last published for a customer (customer.segment_changed)."""

    __tablename__ = "customer_tiers"
    __table_args__ = (UniqueConstraint("tenant_id", "contact_id"),)

    contact_id: Mapped[uuid.UUID] = mapped_column()
    value_tier: Mapped[str | None] = mapped_column(String(16))
    rfm_segment: Mapped[str | None] = mapped_column(String(50))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Asset(Base, TenantRow):
    """A product the customer owns, from an ERP order line."""

    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id", "line_no"),
        Index("ix_assets_tenant_contact", "tenant_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    order_id: Mapped[str] = mapped_column(String(100))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(100))
    product: Mapped[str | None] = mapped_column(String(300))
    serial_number: Mapped[str | None] = mapped_column(String(100))
    purchase_date: Mapped[date] = mapped_column(Date)
    warranty_months: Mapped[int | None] = mapped_column(Integer)


class MergeRepoint(Base, TenantRow, MergeRepointColumns):
    """A reference a `contact.merged` moved, so `contact.unmerged` moves it back
    (crm_shared.merge_repoints)."""
