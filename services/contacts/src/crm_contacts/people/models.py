from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_contacts.database import Base, TenantRow, Versioned


class Person(Base, Versioned):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index(
            "ix_people_name_trgm",
            text("(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) gin_trgm_ops"),
            postgresql_using="gin",
        ),
        Index("ix_people_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_people_tags", "tags", postgresql_using="gin"),
    )

    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    job_title: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    lifecycle_stage: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    owner_id: Mapped[str | None] = mapped_column(String(100))
    relationship_level: Mapped[str | None] = mapped_column(String(32))
    preferred_channel: Mapped[str | None] = mapped_column(String(32))
    contact_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    emails: Mapped[list[PersonEmail]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="PersonEmail.position"
    )
    phones: Mapped[list[PersonPhone]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="PersonPhone.position"
    )


class PersonEmail(Base, TenantRow):
    """One row per address; the tenant-wide uniqueness of emails is enforced here."""

    __tablename__ = "person_emails"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(default=0)


class PersonPhone(Base, TenantRow):
    __tablename__ = "person_phones"
    __table_args__ = (Index("ix_person_phones_tenant_number", "tenant_id", "number"),)

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16), default="mobile")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(default=0)


class Erasure(Base, TenantRow):
    """The fact of a GDPR erasure, kept after the person's PII is gone."""

    __tablename__ = "erasures"

    person_id: Mapped[uuid.UUID] = mapped_column(index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
