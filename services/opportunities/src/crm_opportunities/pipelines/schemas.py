from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_opportunities.money import Percent
from crm_shared.validation import StrictModel

StageKind = Literal["open", "won", "lost"]


class StageIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    probability: Percent
    kind: StageKind = "open"


class PipelineCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    stages: Annotated[list[StageIn], Field(min_length=1, max_length=50)]

    @field_validator("stages")
    @classmethod
    def _stages(cls, stages: list[StageIn]) -> list[StageIn]:
        if len({s.name for s in stages}) != len(stages):
            raise ValueError("stage names must be unique within a pipeline")
        if not any(s.kind == "open" for s in stages):
            raise ValueError("a pipeline needs at least one open stage")
        for s in stages:
            if s.kind == "won" and s.probability != 100:
                raise ValueError("a won stage has probability 100")
            if s.kind == "lost" and s.probability != 0:
                raise ValueError("a lost stage has probability 0")
        return stages


class StageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    position: int
    probability: Decimal
    kind: StageKind


class PipelineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    stages: list[StageRead]
    version: int
