from __future__ import annotations

import uuid

from fastapi import APIRouter

from crm_opportunities.permissions import Admin, Reader
from crm_opportunities.pipelines import service
from crm_opportunities.pipelines.schemas import PipelineCreate, PipelineRead
from crm_shared.web import UoW

router = APIRouter(tags=["pipelines"])


@router.post(
    "/v1/pipelines",
    status_code=201,
    response_model=PipelineRead,
    summary="Create a pipeline with its ordered stages",
)
async def create_pipeline(body: PipelineCreate, uow: UoW, _: Admin) -> PipelineRead:
    async with uow:
        return PipelineRead.model_validate(await service.create_pipeline(uow, body))


@router.get("/v1/pipelines", response_model=list[PipelineRead], summary="List pipelines")
async def list_pipelines(uow: UoW, _: Reader) -> list[PipelineRead]:
    async with uow:
        return [PipelineRead.model_validate(p) for p in await service.list_pipelines(uow)]


@router.get("/v1/pipelines/{pipeline_id}", response_model=PipelineRead, summary="Get a pipeline")
async def get_pipeline(pipeline_id: uuid.UUID, uow: UoW, _: Reader) -> PipelineRead:
    async with uow:
        return PipelineRead.model_validate(await service.get_pipeline(uow, pipeline_id))
