from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_opportunities.money import Percent
from crm_shared.validation import StrictModel

StageKind = Literal["open", "won", "lost"]


class StageIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    probability: Percent
    kind: StageKind = "open"


class StageLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def probability(self) -> Decimal: ...
    @property
    def kind(self) -> str: ...


MAX_STAGES = 50


def stages_problem(stages: Sequence[StageLike]) -> str | None:
    """What makes these stages an invalid pipeline, if anything (on create and every edit)."""
    if len(stages) > MAX_STAGES:
        return f"a pipeline has at most {MAX_STAGES} stages"
    if len({s.name for s in stages}) != len(stages):
        return "stage names must be unique within a pipeline"
    if not any(s.kind == "open" for s in stages):
        return "a pipeline needs at least one open stage"
    for s in stages:
        if s.kind == "won" and s.probability != 100:
            return "a won stage has probability 100"
        if s.kind == "lost" and s.probability != 0:
            return "a lost stage has probability 0"
    return None


class PipelineCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    stages: Annotated[list[StageIn], Field(min_length=1, max_length=MAX_STAGES)]

    @field_validator("stages")
    @classmethod
    def _stages(cls, stages: list[StageIn]) -> list[StageIn]:
        if problem := stages_problem(stages):
            raise ValueError(problem)
        return stages


class PipelineUpdate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class StageCreate(StageIn):
    position: int | None = Field(None, ge=0, description="Where to insert; the end if absent")


class StageUpdate(StrictModel):
    """Fields present replace the stored value. A stage holding deals keeps its kind (their
    status would change with it); a new probability applies to its open deals without an
    override (each published as crm.opportunity.updated)."""

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    probability: Percent | None = None
    kind: StageKind | None = None


class StageOrder(StrictModel):
    stage_ids: Annotated[
        list[uuid.UUID],
        Field(min_length=1, max_length=MAX_STAGES, description="Every stage, in the new order"),
    ]


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
