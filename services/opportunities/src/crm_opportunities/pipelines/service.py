"""Pipelines: ordered stages with a default probability and a kind (open, won, lost).

The pipeline is the aggregate: every stage edit requires the pipeline's ETag and bumps its
version, and the stage rules (unique names, an open stage, won 100 / lost 0) hold after each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from crm_opportunities.deals.events import publish_updated
from crm_opportunities.deals.models import Opportunity
from crm_opportunities.pipelines.models import Pipeline, Stage
from crm_opportunities.pipelines.schemas import (
    PipelineCreate,
    PipelineUpdate,
    StageCreate,
    StageOrder,
    StageUpdate,
    stages_problem,
)
from crm_shared.concurrency import check_version
from crm_shared.errors import Conflict, NotFound, ValidationFailed
from crm_shared.uow import UnitOfWork


async def create_pipeline(uow: UnitOfWork, data: PipelineCreate) -> Pipeline:
    pipeline = Pipeline(tenant_id=uow.tenant_id, name=data.name)
    pipeline.stages = [
        Stage(
            tenant_id=uow.tenant_id,
            name=s.name,
            position=i,
            probability=s.probability,
            kind=s.kind,
        )
        for i, s in enumerate(data.stages)
    ]
    uow.session.add(pipeline)
    await uow.session.flush()
    return pipeline


async def get_pipeline(
    uow: UnitOfWork, pipeline_id: uuid.UUID, *, for_update: bool = False
) -> Pipeline:
    query = select(Pipeline).where(Pipeline.id == pipeline_id, Pipeline.deleted_at.is_(None))
    pipeline = await uow.session.scalar(query.with_for_update() if for_update else query)
    if pipeline is None:
        raise NotFound(f"No pipeline {pipeline_id}.")
    return pipeline


async def list_pipelines(uow: UnitOfWork) -> list[Pipeline]:
    query = select(Pipeline).where(Pipeline.deleted_at.is_(None)).order_by(Pipeline.id)
    return list((await uow.session.scalars(query)).all())


async def get_stage(uow: UnitOfWork, stage_id: uuid.UUID) -> Stage:
    stage = await uow.session.get(Stage, stage_id)
    if stage is None:
        raise NotFound(f"No stage {stage_id}.")
    return stage


# --- editing ---------------------------------------------------------------------------------


async def update_pipeline(
    uow: UnitOfWork, pipeline_id: uuid.UUID, data: PipelineUpdate, *, expected_version: int
) -> Pipeline:
    pipeline = await _for_edit(uow, pipeline_id, expected_version)
    pipeline.name = data.name
    return await _save(uow, pipeline, list(pipeline.stages))


async def add_stage(
    uow: UnitOfWork, pipeline_id: uuid.UUID, data: StageCreate, *, expected_version: int
) -> Pipeline:
    pipeline = await _for_edit(uow, pipeline_id, expected_version)
    stages = list(pipeline.stages)
    position = len(stages) if data.position is None else min(data.position, len(stages))
    # Out of the way of the unique (pipeline, position) until the renumbering.
    stage = Stage(
        tenant_id=uow.tenant_id,
        name=data.name,
        position=-len(stages) - 1,
        probability=data.probability,
        kind=data.kind,
    )
    stages.insert(position, stage)
    return await _save(uow, pipeline, stages)


async def update_stage(
    uow: UnitOfWork,
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    data: StageUpdate,
    *,
    expected_version: int,
) -> Pipeline:
    pipeline = await _for_edit(uow, pipeline_id, expected_version)
    stage = _stage_of(pipeline, stage_id)
    for name in ("name", "probability", "kind"):
        if name in data.model_fields_set and getattr(data, name) is None:
            raise _invalid(f"/{name}", "cannot be null")
    if data.kind is not None and data.kind != stage.kind:
        if held := await _deals_in(uow, stage):
            raise Conflict(
                f"{held} opportunities are in stage {stage.name!r}; changing its kind would "
                "open or close them. Move them to another stage first."
            )
        stage.kind = data.kind
    if data.name is not None:
        stage.name = data.name
    if data.probability is not None and data.probability != stage.probability:
        stage.probability = data.probability
        await _follow_default(uow, stage)
    return await _save(uow, pipeline, list(pipeline.stages))


async def reorder_stages(
    uow: UnitOfWork, pipeline_id: uuid.UUID, data: StageOrder, *, expected_version: int
) -> Pipeline:
    pipeline = await _for_edit(uow, pipeline_id, expected_version)
    by_id = {s.id: s for s in pipeline.stages}
    if sorted(data.stage_ids) != sorted(by_id):
        raise _invalid("/stage_ids", "must name every stage of the pipeline exactly once")
    return await _save(uow, pipeline, [by_id[i] for i in data.stage_ids])


async def delete_stage(
    uow: UnitOfWork, pipeline_id: uuid.UUID, stage_id: uuid.UUID, *, expected_version: int
) -> Pipeline:
    pipeline = await _for_edit(uow, pipeline_id, expected_version)
    stage = _stage_of(pipeline, stage_id)
    if held := await _deals_in(uow, stage):
        raise Conflict(
            f"{held} opportunities are in stage {stage.name!r}; move them to another stage "
            "before deleting it.",
            extra={"stage_id": str(stage.id), "opportunities": held},
        )
    return await _save(uow, pipeline, [s for s in pipeline.stages if s.id != stage_id])


async def _for_edit(uow: UnitOfWork, pipeline_id: uuid.UUID, expected_version: int) -> Pipeline:
    pipeline = await get_pipeline(uow, pipeline_id, for_update=True)
    check_version(pipeline.version, expected_version)
    return pipeline


def _stage_of(pipeline: Pipeline, stage_id: uuid.UUID) -> Stage:
    stage = next((s for s in pipeline.stages if s.id == stage_id), None)
    if stage is None:
        raise NotFound(f"No stage {stage_id} in pipeline {pipeline.id}.")
    return stage


async def _deals_in(uow: UnitOfWork, stage: Stage) -> int:
    """Deals (deleted ones too: they still refer to it) in `stage`."""
    query = select(func.count()).where(Opportunity.stage_id == stage.id)
    return int(await uow.session.scalar(query) or 0)


async def _follow_default(uow: UnitOfWork, stage: Stage) -> None:
    """Deals without an override take their stage's new probability, each as an update."""
    query = select(Opportunity).where(
        Opportunity.stage_id == stage.id,
        Opportunity.probability_override.is_(None),
        Opportunity.deleted_at.is_(None),
    )
    deals = (await uow.session.scalars(query.order_by(Opportunity.id).with_for_update())).all()
    now = datetime.now(UTC)
    for deal in deals:
        deal.probability, deal.updated_at = stage.probability, now
    await uow.session.flush()
    for deal in deals:
        publish_updated(uow, deal, ["probability"])


async def _save(uow: UnitOfWork, pipeline: Pipeline, stages: list[Stage]) -> Pipeline:
    """Check the rules, then store `stages` in this order as the pipeline's stages."""
    if problem := stages_problem(stages):
        raise _invalid("/stages", problem)
    pipeline.stages = stages
    pipeline.updated_at = datetime.now(UTC)  # a stage edit is an edit of the pipeline
    # Positions are unique per pipeline: park them below zero, then number them.
    for i, stage in enumerate(stages):
        stage.position = -i - 1
    await uow.session.flush()
    for i, stage in enumerate(stages):
        stage.position = i
    await uow.session.flush()
    return pipeline


def _invalid(pointer: str, detail: str) -> ValidationFailed:
    return ValidationFailed(
        "One or more fields are invalid.",
        errors=[{"pointer": pointer, "in": "body", "detail": detail}],
    )
