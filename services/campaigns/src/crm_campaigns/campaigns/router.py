from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from crm_campaigns.campaigns import service
from crm_campaigns.campaigns.schemas import (
    AudienceReport,
    Calendar,
    CampaignChannel,
    CampaignCreate,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    ContactPolicyBody,
    Effectiveness,
    Transition,
)
from crm_campaigns.permissions import Reader, Writer
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.errors import NotFound
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.web import UoW

router = APIRouter(tags=["campaigns"])
CAMPAIGN_EXAMPLE = {
    "name": "Spring newsletter",
    "channel": "email",
    "goal": "Re-activate lapsed customers",
    "owner_id": "user-7",
    "planned_start": "2027-03-01T09:00:00Z",
    "planned_end": "2027-03-14T18:00:00Z",
    "budget": "1500.00",
    "currency": "EUR",
    "subject": "Spring is here",
    "body": "Hello {first_name}, ...",
    "segment_ids": ["0193a0b4-5f6e-7c1d-8e2f-3a4b5c6d7e8f"],
}


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contact_id: uuid.UUID
    planned_at: datetime
    send_status: str
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    responded_at: datetime | None
    bounced_at: datetime | None
    unsubscribed_at: datetime | None


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    max_touches: int
    period_days: int
    updated_at: datetime


def _headers(campaign: CampaignRead) -> dict[str, str]:
    return {"ETag": f'"{campaign.version}"', "Location": f"/v1/campaigns/{campaign.id}"}


@router.post(
    "/v1/campaigns", status_code=201, response_model=CampaignRead, summary="Create a campaign"
)
async def create_campaign(
    request: Request,
    uow: UoW,
    _: Writer,
    body: Annotated[CampaignCreate, Body(openapi_examples={"email": {"value": CAMPAIGN_EXAMPLE}})],
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            campaign = CampaignRead.model_validate(await service.create_campaign(uow, body))
            return campaign, _headers(campaign)

        return await idempotent(uow, request, work)


@router.get("/v1/campaigns", response_model=Page[CampaignRead], summary="List campaigns")
async def list_campaigns(
    uow: UoW,
    _: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    status: CampaignStatus | None = None,
    channel: CampaignChannel | None = None,
) -> Page[CampaignRead]:
    async with uow:
        rows = [
            CampaignRead.model_validate(c)
            for c in await service.list_campaigns(uow, page, status, channel)
        ]
    return Page(
        items=rows[: page.limit], next_cursor=next_cursor(rows, page.limit, lambda c: [str(c.id)])
    )


@router.get("/v1/campaigns/{campaign_id}", response_model=CampaignRead, summary="Get a campaign")
async def get_campaign(
    campaign_id: uuid.UUID, uow: UoW, _: Reader, response: Response
) -> CampaignRead:
    async with uow:
        campaign = CampaignRead.model_validate(await service.get_campaign(uow, campaign_id))
    set_etag(response, campaign.version)
    return campaign


@router.patch(
    "/v1/campaigns/{campaign_id}",
    response_model=CampaignRead,
    summary="Update a campaign (If-Match)",
)
async def update_campaign(
    campaign_id: uuid.UUID,
    body: CampaignUpdate,
    request: Request,
    uow: UoW,
    _: Writer,
    response: Response,
) -> CampaignRead:
    expected = if_match_version(request)
    async with uow:
        campaign = CampaignRead.model_validate(
            await service.update_campaign(uow, campaign_id, body, expected_version=expected)
        )
    set_etag(response, campaign.version)
    return campaign


@router.delete(
    "/v1/campaigns/{campaign_id}",
    status_code=204,
    summary="Delete a campaign that never went out (If-Match)",
    description="A draft, or a campaign cancelled before launch, with no touch or attributed win: "
    "its audience and call lists go with it, surveys are detached, `crm.campaign.deleted` is "
    "published. A scheduled campaign goes back to draft first; a running one is cancelled "
    "first; one that went out stays for its reports (409).",
)
async def delete_campaign(
    campaign_id: uuid.UUID, request: Request, uow: UoW, _: Writer
) -> Response:
    expected = if_match_version(request)
    async with uow:
        await service.delete_campaign(uow, campaign_id, expected_version=expected)
    return Response(status_code=204)


@router.post(
    "/v1/campaigns/{campaign_id}/status",
    response_model=CampaignRead,
    summary="Move a campaign to another status (If-Match; valid transitions only)",
    description="draft -> scheduled | cancelled; scheduled -> draft | running | cancelled; "
    "running -> completed | cancelled. Scheduling needs planned_start; launching (running) "
    "needs a built audience and starts the sender.",
)
async def change_status(
    campaign_id: uuid.UUID,
    body: Transition,
    request: Request,
    uow: UoW,
    _: Writer,
    response: Response,
) -> CampaignRead:
    expected = if_match_version(request)
    async with uow:
        campaign = CampaignRead.model_validate(
            await service.transition(uow, campaign_id, body.status, expected_version=expected)
        )
    set_etag(response, campaign.version)
    return campaign


@router.post(
    "/v1/campaigns/{campaign_id}/audience",
    response_model=AudienceReport,
    summary="Build (or rebuild) the campaign's audience",
    description="Segments minus exclusion segments, minus people without granted marketing "
    "consent for the channel, minus do-not-contact, minus people without an address for the "
    "channel, honouring the preferred channel when the campaign asks, minus people at the "
    "tenant's frequency cap. Members are stored; the report counts exclusions by reason.",
)
async def build_audience(campaign_id: uuid.UUID, uow: UoW, _: Writer) -> AudienceReport:
    async with uow:
        return await service.build_audience(uow, campaign_id)


@router.get(
    "/v1/campaigns/{campaign_id}/members",
    response_model=Page[MemberRead],
    summary="The campaign's audience, with delivery and response state",
)
async def list_members(
    campaign_id: uuid.UUID,
    uow: UoW,
    _: Reader,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[MemberRead]:
    async with uow:
        rows = [
            MemberRead.model_validate(m) for m in await service.list_members(uow, campaign_id, page)
        ]
    return Page(
        items=rows[: page.limit],
        next_cursor=next_cursor(rows, page.limit, lambda m: [str(m.contact_id)]),
    )


@router.get(
    "/v1/campaigns/{campaign_id}/effectiveness",
    response_model=Effectiveness,
    summary="Audience, sent, delivery/open/click/response rates, conversions, revenue, ROI",
)
async def effectiveness(campaign_id: uuid.UUID, uow: UoW, _: Reader) -> Effectiveness:
    async with uow:
        return await service.effectiveness(uow, campaign_id)


@router.get(
    "/v1/campaigns/{campaign_id}/effectiveness/segments",
    response_model=list[Effectiveness],
    summary="Effectiveness per segment of the campaign (cost shared by audience)",
)
async def effectiveness_by_segment(
    campaign_id: uuid.UUID, uow: UoW, _: Reader
) -> list[Effectiveness]:
    async with uow:
        return await service.effectiveness_by_segment(uow, campaign_id)


@router.get(
    "/v1/effectiveness/channels",
    response_model=list[Effectiveness],
    summary="Effectiveness per channel, over every campaign not cancelled",
)
async def effectiveness_by_channel(uow: UoW, _: Reader) -> list[Effectiveness]:
    async with uow:
        return await service.effectiveness_by_channel(uow)


@router.get("/v1/calendar", response_model=Calendar, summary="The marketing calendar")
async def calendar(
    uow: UoW,
    _: Reader,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    group_by: Literal["week", "month"] = "week",
) -> Calendar:
    async with uow:
        return await service.calendar(uow, start, end, group_by)


@router.put(
    "/v1/contact-policy",
    response_model=PolicyRead,
    summary="Set the tenant's frequency cap (at most N touches per person per period)",
)
async def set_policy(body: ContactPolicyBody, uow: UoW, _: Writer) -> PolicyRead:
    async with uow:
        return PolicyRead.model_validate(await service.set_policy(uow, body))


@router.delete(
    "/v1/contact-policy",
    status_code=204,
    summary="Remove the tenant's frequency cap (audiences built afterwards are not capped)",
)
async def delete_policy(uow: UoW, _: Writer) -> Response:
    async with uow:
        await service.delete_policy(uow)
    return Response(status_code=204)


@router.get("/v1/contact-policy", response_model=PolicyRead, summary="The tenant's frequency cap")
async def get_policy(uow: UoW, _: Reader) -> PolicyRead:
    async with uow:
        policy = await service.get_policy(uow)
        if policy is None:
            raise NotFound("No frequency cap is set for this tenant.")
        return PolicyRead.model_validate(policy)
