from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_shared.validation import StrictModel

Strategy = Literal["round_robin", "least_busy", "manual"]


class QueueCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    strategy: Strategy = "round_robin"


class QueueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    strategy: Strategy
    version: int


class MemberIn(StrictModel):
    capacity: Annotated[int, Field(ge=1, le=1000)] = 20
    active: bool = True


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    queue_id: uuid.UUID
    agent_id: str
    capacity: int
    active: bool
    open_tickets: int = 0
