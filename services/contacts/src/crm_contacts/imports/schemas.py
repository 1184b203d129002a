from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TARGETS = (
    "first_name",
    "last_name",
    "email",
    "emails",
    "phones",
    "job_title",
    "language",
    "timezone",
    "lifecycle_stage",
    "source",
    "external_id",
    "tags",
    "owner_id",
    "relationship_level",
)


class ImportJobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entity: Literal["person", "company"]
    match_on: Literal["email", "external_id", "domain"]
    mapping: dict[str, str]
    status: Literal["queued", "running", "done", "failed"]
    total_rows: int | None = Field(description="Data rows in the file (known once counted)")
    rows_done: int
    created_count: int
    updated_count: int
    unchanged_count: int
    error_count: int = Field(description="Rows rejected; see the errors report")
    failure: str | None
    created_at: datetime
    finished_at: datetime | None
