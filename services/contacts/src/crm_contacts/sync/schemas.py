from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from crm_contacts.companies.schemas import CompanyRead, RoleRead
from crm_contacts.people.schemas import PersonRead

Entity = Literal["person", "company", "role"]


class Change(BaseModel):
    entity: Entity
    id: uuid.UUID
    op: Literal["upsert", "delete"] = Field(
        description="`delete` is a tombstone: drop the record locally"
    )
    data: PersonRead | CompanyRead | RoleRead | None = Field(
        default=None, description="The record as it is now (absent for tombstones)"
    )


class ChangesPage(BaseModel):
    changes: list[Change]
    next_token: str = Field(description="Send it as `since` on the next call")
    has_more: bool = Field(description="More changes are ready: call again at once")
