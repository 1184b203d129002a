from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_campaigns.permissions import Reader, Writer
from crm_campaigns.settings import CampaignsSettings
from crm_campaigns.surveys import service
from crm_campaigns.surveys.schemas import (
    Answer,
    Answered,
    LinkRequest,
    SurveyCreate,
    SurveyLink,
    SurveyRead,
    SurveyResults,
)
from crm_shared.errors import ServiceUnavailable
from crm_shared.idempotency import idempotent
from crm_shared.settings import settings_of
from crm_shared.uow import UnitOfWork
from crm_shared.web import UoW

router = APIRouter(tags=["surveys"])


def _secret(request: Request) -> str:
    """`CAMPAIGNS_SURVEY_SECRET`, else the HS256 API secret (dev)."""
    settings = settings_of(request.app.state.settings, CampaignsSettings)
    secret = settings.survey_secret or settings.jwt_secret
    if not secret:
        raise ServiceUnavailable("Survey links are not configured (CAMPAIGNS_SURVEY_SECRET).")
    return str(secret)


@router.post("/v1/surveys", status_code=201, response_model=SurveyRead, summary="Create a survey")
async def create_survey(body: SurveyCreate, request: Request, uow: UoW, _: Writer) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            survey = SurveyRead.model_validate(await service.create_survey(uow, body))
            return survey, {"Location": f"/v1/surveys/{survey.id}"}

        return await idempotent(uow, request, work)


@router.delete(
    "/v1/surveys/{survey_id}",
    status_code=204,
    summary="Delete a survey nobody has answered yet",
    description="409 once it has answers (they feed the loyalty indexes); links already sent "
    "then answer 404.",
)
async def delete_survey(survey_id: uuid.UUID, uow: UoW, _: Writer) -> Response:
    async with uow:
        await service.delete_survey(uow, survey_id)
    return Response(status_code=204)


@router.post(
    "/v1/surveys/{survey_id}/links",
    response_model=list[SurveyLink],
    summary="Signed answer links for people (no login needed to answer)",
)
async def survey_links(
    survey_id: uuid.UUID, body: LinkRequest, request: Request, uow: UoW, principal: Writer
) -> list[SurveyLink]:
    async with uow:
        await service.get_survey(uow, survey_id)
    return service.sign_links(
        _secret(request), principal.tenant_id, survey_id, body.contact_ids, body.valid_days
    )


@router.post(
    "/v1/survey-answers",
    status_code=201,
    response_model=Answered,
    summary="Answer a survey through its signed link (no login)",
    description="Loyalty (will you buy again: unconditional, conditional, none), NPS 0-10, "
    "satisfaction 1-5 and a comment. One answer per person and survey (409 after that). "
    "Published as `crm.survey.answered` for the loyalty indexes.",
)
async def answer_survey(body: Answer, request: Request) -> Answered:
    tenant, survey_id, contact_id = service.read_token(_secret(request), body.token)
    uow = UnitOfWork(
        request.app.state.sessionmaker,
        tenant_id=tenant,
        actor=f"survey:{contact_id}",
        source=request.app.state.settings.source,
    )
    async with uow:
        response = await service.answer(uow, survey_id, contact_id, body)
        return Answered(response_id=response.id, answered_at=response.answered_at)


@router.get(
    "/v1/surveys/{survey_id}/results",
    response_model=SurveyResults,
    summary="Standard and strengthened loyalty indexes, NPS",
)
async def survey_results(survey_id: uuid.UUID, uow: UoW, _: Reader) -> SurveyResults:
    async with uow:
        return await service.results(uow, survey_id)
