"""Pipelines: ordered stages with a default probability and a kind (open, won, lost)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_opportunities.pipelines.models import Pipeline, Stage
from crm_opportunities.pipelines.schemas import PipelineCreate
from crm_shared.errors import NotFound
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


async def get_pipeline(uow: UnitOfWork, pipeline_id: uuid.UUID) -> Pipeline:
    pipeline = await uow.session.scalar(
        select(Pipeline).where(Pipeline.id == pipeline_id, Pipeline.deleted_at.is_(None))
    )
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
