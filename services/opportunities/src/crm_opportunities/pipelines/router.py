from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from crm_opportunities.permissions import Admin, Reader
from crm_opportunities.pipelines import service
from crm_opportunities.pipelines.models import Pipeline
from crm_opportunities.pipelines.schemas import (
    PipelineCreate,
    PipelineRead,
    PipelineUpdate,
    StageCreate,
    StageOrder,
    StageUpdate,
)
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.web import UoW

router = APIRouter(tags=["pipelines"])


def _read(pipeline: Pipeline, response: Response) -> PipelineRead:
    read = PipelineRead.model_validate(pipeline)
    set_etag(response, read.version)
    return read


@router.post(
    "/v1/pipelines",
    status_code=201,
    response_model=PipelineRead,
    summary="Create a pipeline with its ordered stages",
)
async def create_pipeline(
    body: PipelineCreate, uow: UoW, _: Admin, response: Response
) -> PipelineRead:
    async with uow:
        return _read(await service.create_pipeline(uow, body), response)


@router.get("/v1/pipelines", response_model=list[PipelineRead], summary="List pipelines")
async def list_pipelines(uow: UoW, _: Reader) -> list[PipelineRead]:
    async with uow:
        return [PipelineRead.model_validate(p) for p in await service.list_pipelines(uow)]


@router.get("/v1/pipelines/{pipeline_id}", response_model=PipelineRead, summary="Get a pipeline")
async def get_pipeline(
    pipeline_id: uuid.UUID, uow: UoW, _: Reader, response: Response
) -> PipelineRead:
    async with uow:
        return _read(await service.get_pipeline(uow, pipeline_id), response)


@router.patch(
    "/v1/pipelines/{pipeline_id}", response_model=PipelineRead, summary="Rename (If-Match)"
)
async def update_pipeline(
    pipeline_id: uuid.UUID,
    body: PipelineUpdate,
    request: Request,
    uow: UoW,
    _: Admin,
    response: Response,
) -> PipelineRead:
    expected = if_match_version(request)
    async with uow:
        pipeline = await service.update_pipeline(uow, pipeline_id, body, expected_version=expected)
        return _read(pipeline, response)


@router.post(
    "/v1/pipelines/{pipeline_id}/stages",
    response_model=PipelineRead,
    summary="Add a stage, at a position or last (If-Match: the pipeline's ETag)",
)
async def add_stage(
    pipeline_id: uuid.UUID,
    body: StageCreate,
    request: Request,
    uow: UoW,
    _: Admin,
    response: Response,
) -> PipelineRead:
    expected = if_match_version(request)
    async with uow:
        pipeline = await service.add_stage(uow, pipeline_id, body, expected_version=expected)
        return _read(pipeline, response)


@router.patch(
    "/v1/pipelines/{pipeline_id}/stages/{stage_id}",
    response_model=PipelineRead,
    summary="Rename a stage or change its default probability or kind (If-Match)",
)
async def update_stage(
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    body: StageUpdate,
    request: Request,
    uow: UoW,
    _: Admin,
    response: Response,
) -> PipelineRead:
    expected = if_match_version(request)
    async with uow:
        pipeline = await service.update_stage(
            uow, pipeline_id, stage_id, body, expected_version=expected
        )
        return _read(pipeline, response)


@router.put(
    "/v1/pipelines/{pipeline_id}/stage-order",
    response_model=PipelineRead,
    summary="Reorder the stages (every stage id, in the new order; If-Match)",
)
async def reorder_stages(
    pipeline_id: uuid.UUID,
    body: StageOrder,
    request: Request,
    uow: UoW,
    _: Admin,
    response: Response,
) -> PipelineRead:
    expected = if_match_version(request)
    async with uow:
        pipeline = await service.reorder_stages(uow, pipeline_id, body, expected_version=expected)
        return _read(pipeline, response)


@router.delete(
    "/v1/pipelines/{pipeline_id}/stages/{stage_id}",
    response_model=PipelineRead,
    summary="Delete a stage that holds no deals (409 otherwise; If-Match)",
)
async def delete_stage(
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    request: Request,
    uow: UoW,
    _: Admin,
    response: Response,
) -> PipelineRead:
    expected = if_match_version(request)
    async with uow:
        pipeline = await service.delete_stage(uow, pipeline_id, stage_id, expected_version=expected)
        return _read(pipeline, response)
