from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from crm_opportunities.permissions import Admin, Reader
from crm_opportunities.teams import service
from crm_opportunities.teams.schemas import MemberIn, MemberRead, TeamCreate, TeamRead, TeamUpdate
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.web import UoW

router = APIRouter(tags=["teams"])


@router.post("/v1/teams", status_code=201, response_model=TeamRead, summary="Create a team")
async def create_team(body: TeamCreate, uow: UoW, _: Admin, response: Response) -> TeamRead:
    async with uow:
        team = TeamRead.model_validate(await service.create_team(uow, body))
    set_etag(response, team.version)
    return team


@router.get("/v1/teams", response_model=list[TeamRead], summary="List teams")
async def list_teams(uow: UoW, _: Reader) -> list[TeamRead]:
    async with uow:
        return [TeamRead.model_validate(t) for t in await service.list_teams(uow)]


@router.get("/v1/teams/{team_id}", response_model=TeamRead, summary="Get a team")
async def get_team(team_id: uuid.UUID, uow: UoW, _: Reader, response: Response) -> TeamRead:
    async with uow:
        team = TeamRead.model_validate(await service.get_team(uow, team_id))
    set_etag(response, team.version)
    return team


@router.patch("/v1/teams/{team_id}", response_model=TeamRead, summary="Update a team (If-Match)")
async def update_team(
    team_id: uuid.UUID, body: TeamUpdate, request: Request, uow: UoW, _: Admin, response: Response
) -> TeamRead:
    expected = if_match_version(request)
    async with uow:
        team = TeamRead.model_validate(
            await service.update_team(uow, team_id, body, expected_version=expected)
        )
    set_etag(response, team.version)
    return team


@router.get("/v1/teams/{team_id}/members", response_model=list[MemberRead], summary="Team members")
async def list_members(team_id: uuid.UUID, uow: UoW, _: Reader) -> list[MemberRead]:
    async with uow:
        return [MemberRead.model_validate(m) for m in await service.members(uow, team_id)]


@router.put(
    "/v1/teams/{team_id}/members",
    response_model=MemberRead,
    summary="Add a member or change their capacity",
)
async def put_member(team_id: uuid.UUID, body: MemberIn, uow: UoW, _: Admin) -> MemberRead:
    async with uow:
        return MemberRead.model_validate(await service.put_member(uow, team_id, body))


@router.delete("/v1/teams/{team_id}/members/{user_id}", status_code=204, summary="Remove a member")
async def remove_member(team_id: uuid.UUID, user_id: str, uow: UoW, _: Admin) -> Response:
    async with uow:
        await service.remove_member(uow, team_id, user_id)
    return Response(status_code=204)
