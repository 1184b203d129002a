"""The local read model of people, built only from contacts' and analytics' events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_campaigns.database import Base


class ProjectedPerson(Base):
    """One person as contacts last described them (ordered by the snapshot version), plus the
    analytics segment. Erased people keep only their id and `erased_at`."""

    __tablename__ = "people"
    __table_args__ = (
        Index("ix_people_tags", "tags", postgresql_using="gin"),
        Index("ix_people_tenant_stage", "tenant_id", "lifecycle_stage"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(35))
    country: Mapped[str | None] = mapped_column(String(2))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(100))
    job_title: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(100))
    relationship_level: Mapped[str | None] = mapped_column(String(32))
    preferred_channel: Mapped[str | None] = mapped_column(String(32))
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    company_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    rfm_segment: Mapped[str | None] = mapped_column(String(64))
    value_tier: Mapped[str | None] = mapped_column(String(32))
    segment_computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProjectedConsent(Base):
    """Current consent per person, channel and purpose: the latest by capture time."""

    __tablename__ = "consents"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MergedPerson(Base):
    """A person an undoable `contact.merged` marked deleted here (at `deleted_at`), kept so a
    `contact.unmerged` brings back exactly them. The merge moves nothing else in campaigns:
    members, touches and consents stay filed under the merged person's own id."""

    __tablename__ = "merged_people"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merge_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
