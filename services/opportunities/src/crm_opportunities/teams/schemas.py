from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.validation import StrictModel, UserId

Strategy = Literal["round_robin", "least_busy"]


class TeamCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    parent_id: uuid.UUID | None = None
    manager_id: UserId | None = None
    strategy: Strategy = "round_robin"


class TeamUpdate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    parent_id: uuid.UUID | None = None
    manager_id: UserId | None = None
    strategy: Strategy | None = None


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    manager_id: str | None
    strategy: Strategy
    version: int
    created_at: datetime


class MemberIn(StrictModel):
    user_id: UserId
    capacity: Annotated[int, Field(ge=0, le=100_000)] | None = None
    active: bool = True


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: str
    capacity: int | None
    active: bool
