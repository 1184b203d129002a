"""Surveys answered through a signed link (no login): the token names the tenant, survey and
person, expires, and is signed with the service's survey secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import func, select

from crm_campaigns.surveys.models import Survey, SurveyResponse
from crm_campaigns.surveys.schemas import Answer, SurveyCreate, SurveyLink, SurveyResults
from crm_shared.errors import Conflict, NotFound, Unauthorized
from crm_shared.events.campaigns import SurveyAnswered
from crm_shared.uow import UnitOfWork

AUDIENCE = "crm-survey"


async def create_survey(uow: UnitOfWork, data: SurveyCreate) -> Survey:
    survey = Survey(tenant_id=uow.tenant_id, name=data.name, campaign_id=data.campaign_id)
    uow.session.add(survey)
    await uow.session.flush()
    return survey


async def get_survey(uow: UnitOfWork, survey_id: uuid.UUID) -> Survey:
    survey = await uow.session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"Survey {survey_id} not found.")
    return survey


async def delete_survey(uow: UnitOfWork, survey_id: uuid.UUID) -> None:
    """Only before anyone answered: answers feed the loyalty indexes and NPS."""
    survey = await get_survey(uow, survey_id)
    answers = await uow.session.scalar(
        select(func.count()).where(SurveyResponse.survey_id == survey_id)
    )
    if answers:
        raise Conflict(
            f"This survey has {answers} answer(s); it stays for the loyalty indexes.",
            extra={"answers": int(answers)},
        )
    await uow.session.delete(survey)


def sign_links(
    secret: str, tenant: str, survey_id: uuid.UUID, contacts: list[uuid.UUID], days: int
) -> list[SurveyLink]:
    exp = datetime.now(UTC) + timedelta(days=days)
    return [
        SurveyLink(
            contact_id=c,
            token=jwt.encode(
                {"aud": AUDIENCE, "tid": tenant, "sid": str(survey_id), "cid": str(c), "exp": exp},
                secret,
                algorithm="HS256",
            ),
        )
        for c in contacts
    ]


def read_token(secret: str, token: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "aud", "tid", "sid", "cid"]},
        )
        return str(claims["tid"]), uuid.UUID(claims["sid"]), uuid.UUID(claims["cid"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized("This survey link is not valid or has expired.") from exc


async def answer(
    uow: UnitOfWork, survey_id: uuid.UUID, contact_id: uuid.UUID, data: Answer
) -> SurveyResponse:
    await get_survey(uow, survey_id)
    taken = await uow.session.scalar(
        select(SurveyResponse.id).where(
            SurveyResponse.survey_id == survey_id, SurveyResponse.contact_id == contact_id
        )
    )
    if taken is not None:
        raise Conflict("This survey was already answered.")
    response = SurveyResponse(
        tenant_id=uow.tenant_id,
        survey_id=survey_id,
        contact_id=contact_id,
        repurchase_intent=data.repurchase_intent,
        nps_score=data.nps_score,
        satisfaction=data.satisfaction,
        comment=data.comment,
        answered_at=datetime.now(UTC),
    )
    uow.session.add(response)
    await uow.session.flush()
    uow.publish(
        SurveyAnswered(
            tenant_id=uow.tenant_id,
            contact_id=str(contact_id),
            survey_id=str(survey_id),
            response_id=str(response.id),
            answered_at=response.answered_at,
            nps_score=data.nps_score,
            satisfaction=data.satisfaction,
            repurchase_intent=data.repurchase_intent,
        )
    )
    return response


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


async def results(uow: UnitOfWork, survey_id: uuid.UUID) -> SurveyResults:
    await get_survey(uow, survey_id)
    r = SurveyResponse
    row = (
        await uow.session.execute(
            select(
                func.count(),
                func.count(r.repurchase_intent),
                func.count().filter(r.repurchase_intent == "unconditional"),
                func.count().filter(r.repurchase_intent == "conditional"),
                func.count(r.nps_score),
                func.count().filter(r.nps_score >= 9),
                func.count().filter(r.nps_score <= 6),
            ).where(r.survey_id == survey_id)
        )
    ).one()
    total, k, kb, kw, n, promoters, detractors = (int(v) for v in row)
    nps = _pct(promoters, n)
    return SurveyResults(
        survey_id=survey_id,
        responses=total,
        loyalty_respondents=k,
        standard_loyalty_index=_pct(kb + kw, k),
        strengthened_loyalty_index=_pct(kb, k),
        nps_respondents=n,
        nps=round(nps - (_pct(detractors, n) or 0), 2) if nps is not None else None,
    )
