from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_contacts.database import Base, TenantRow, utcnow


class ImportJob(Base, TenantRow):
    """A CSV import running in the background; progress (and where to resume) is committed
    with every chunk."""

    __tablename__ = "import_jobs"

    entity: Mapped[str] = mapped_column(String(16))
    match_on: Mapped[str] = mapped_column(String(16))  # email | external_id
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total_rows: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    byte_offset: Mapped[int] = mapped_column(BigInteger, default=0)  # end of the last chunk
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportError_(Base, TenantRow):
    """One rejected row of an import, for the downloadable report."""

    __tablename__ = "import_errors"
    # The report pages through a job's errors in row order (a million-row file may have
    # a hundred thousand of them).
    __table_args__ = (Index("ix_import_errors_job_row", "job_id", "row_number"),)

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
