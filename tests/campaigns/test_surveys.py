"""Surveys answered through signed links without login; loyalty indexes and NPS."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.campaigns.helpers import new_id
from tests.helpers import count_rows, outbox_events


async def test_signed_links_answers_and_indexes(
    campaigns_app: FastAPI, capi: httpx.AsyncClient, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    survey = await capi.post("/v1/surveys", json={"name": "Loyalty 2027"})
    assert survey.status_code == 201, survey.text
    sid = survey.json()["id"]
    people = [new_id() for _ in range(4)]
    links = (await capi.post(f"/v1/surveys/{sid}/links", json={"contact_ids": people})).json()
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=campaigns_app), base_url="http://campaigns"
    )
    answers: list[dict[str, Any]] = [
        {"repurchase_intent": "unconditional", "nps_score": 10},
        {"repurchase_intent": "conditional", "nps_score": 8},
        {"repurchase_intent": "none", "nps_score": 3, "comment": "slow delivery"},
        {"nps_score": 9, "satisfaction": 5},
    ]
    async with anonymous:
        for link, body in zip(links, answers, strict=True):
            response = await anonymous.post(
                "/v1/survey-answers", json={"token": link["token"]} | body
            )
            assert response.status_code == 201, response.text
        again = await anonymous.post(
            "/v1/survey-answers", json={"token": links[0]["token"], "nps_score": 0}
        )
        assert again.status_code == 409
        forged = links[1]["token"][:-4] + "AAAA"
        bad = await anonymous.post("/v1/survey-answers", json={"token": forged, "nps_score": 1})
        assert bad.status_code == 401
        empty = await anonymous.post("/v1/survey-answers", json={"token": links[2]["token"]})
        assert empty.status_code == 422
    assert await count_rows(campaigns_owner, "survey_responses", tenant) == 4
    results = (await capi.get(f"/v1/surveys/{sid}/results")).json()
    assert results["responses"] == 4 and results["loyalty_respondents"] == 3
    assert results["standard_loyalty_index"] == round(100 * 2 / 3, 2)
    assert results["strengthened_loyalty_index"] == round(100 / 3, 2)
    assert results["nps"] == 25.0  # 2 promoters, 1 detractor of 4
    answered = [
        e
        for e in await outbox_events(campaigns_owner, tenant)
        if e["type"] == "crm.survey.answered"
    ]
    assert len(answered) == 4
    first = next(e for e in answered if e["key"] == people[0])["data"]
    assert first["repurchase_intent"] == "unconditional" and first["nps_score"] == 10
    assert first["survey_id"] == sid


async def test_erasure_removes_survey_comments(
    campaigns_app: FastAPI, capi: httpx.AsyncClient, campaigns_owner: AsyncEngine, tenant: str
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from crm_shared.events.catalog import ContactErased
    from tests.campaigns.helpers import Feeder

    person = await Feeder(campaigns_app, tenant).person()
    sid = (await capi.post("/v1/surveys", json={"name": "s"})).json()["id"]
    link = (await capi.post(f"/v1/surveys/{sid}/links", json={"contact_ids": [person]})).json()[0]
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=campaigns_app), base_url="http://campaigns"
    )
    async with anonymous:
        body = {"token": link["token"], "nps_score": 2, "comment": "call me at +48601234567"}
        assert (await anonymous.post("/v1/survey-answers", json=body)).status_code == 201
    await Feeder(campaigns_app, tenant).event(
        ContactErased(tenant_id=tenant, contact_id=person, erased_at=datetime.now(UTC))
    )
    async with campaigns_owner.connect() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        comments = (
            await conn.execute(text("SELECT comment, nps_score FROM survey_responses"))
        ).all()
    assert [tuple(r) for r in comments] == [(None, 2)]
