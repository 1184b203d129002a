"""Teams (a tree under managers), their members and capacities, and record visibility."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, literal, or_, select, text, true
from sqlalchemy.orm import aliased

from crm_opportunities.permissions import SEE_ALL
from crm_opportunities.teams.models import Team, TeamMember
from crm_opportunities.teams.schemas import MemberIn, TeamCreate, TeamUpdate
from crm_shared.auth import Principal
from crm_shared.concurrency import check_version
from crm_shared.errors import NotFound, ValidationFailed
from crm_shared.uow import UnitOfWork

MAX_DEPTH = 50


@dataclass(frozen=True)
class Visibility:
    """The records a caller may see: everything, or those owned by `users` / held by `teams`."""

    everything: bool
    user_id: str
    users: frozenset[str]
    teams: frozenset[uuid.UUID]

    def clause(self, owner: Any, team: Any | None = None) -> ColumnElement[bool]:
        if self.everything:
            return true()
        conditions = [owner.in_(sorted(self.users))] if self.users else []
        if team is not None and self.teams:
            conditions.append(team.in_(sorted(self.teams)))
        return or_(*conditions) if conditions else false()

    def can_see(self, owner_id: str | None, team_id: uuid.UUID | None = None) -> bool:
        return (
            self.everything
            or (owner_id is not None and owner_id in self.users)
            or (team_id is not None and team_id in self.teams)
        )


async def visibility(uow: UnitOfWork, principal: Principal) -> Visibility:
    if principal.roles & SEE_ALL:
        return Visibility(True, principal.sub, frozenset(), frozenset())
    if "sales_manager" not in principal.roles:
        return Visibility(False, principal.sub, frozenset({principal.sub}), frozenset())
    teams = await team_tree(uow, principal.sub)
    users = {principal.sub}
    if teams:
        users |= set(
            (
                await uow.session.scalars(
                    select(TeamMember.user_id).where(TeamMember.team_id.in_(teams))
                )
            ).all()
        )
        users |= {
            m
            for m in (
                await uow.session.scalars(select(Team.manager_id).where(Team.id.in_(teams)))
            ).all()
            if m
        }
    return Visibility(False, principal.sub, frozenset(users), frozenset(teams))


async def team_tree(uow: UnitOfWork, manager_id: str) -> set[uuid.UUID]:
    """The teams `manager_id` manages and every team below them."""
    down = (
        select(Team.id, literal(0).label("depth"))
        .where(Team.manager_id == manager_id, Team.deleted_at.is_(None))
        .cte("down", recursive=True)
    )
    child = aliased(Team)
    down = down.union_all(
        select(child.id, (down.c.depth + 1).label("depth"))
        .join(down, child.parent_id == down.c.id)
        .where(child.deleted_at.is_(None), down.c.depth < MAX_DEPTH)
    )
    return set((await uow.session.scalars(select(down.c.id))).all())


async def create_team(uow: UnitOfWork, data: TeamCreate) -> Team:
    await _lock_tree(uow)
    if data.parent_id is not None:
        await get_team(uow, data.parent_id)
    team = Team(
        tenant_id=uow.tenant_id,
        name=data.name,
        parent_id=data.parent_id,
        manager_id=data.manager_id,
        strategy=data.strategy,
    )
    uow.session.add(team)
    await uow.session.flush()
    return team


async def get_team(uow: UnitOfWork, team_id: uuid.UUID, *, for_update: bool = False) -> Team:
    query = select(Team).where(Team.id == team_id, Team.deleted_at.is_(None))
    team = await uow.session.scalar(query.with_for_update() if for_update else query)
    if team is None:
        raise NotFound(f"No team {team_id}.")
    return team


async def list_teams(uow: UnitOfWork) -> list[Team]:
    query = select(Team).where(Team.deleted_at.is_(None)).order_by(Team.name, Team.id)
    return list((await uow.session.scalars(query)).all())


async def update_team(
    uow: UnitOfWork, team_id: uuid.UUID, data: TeamUpdate, *, expected_version: int
) -> Team:
    if "parent_id" in data.model_fields_set:
        await _lock_tree(uow)
    team = await get_team(uow, team_id, for_update=True)
    check_version(team.version, expected_version)
    if "parent_id" in data.model_fields_set and data.parent_id != team.parent_id:
        await _check_parent(uow, team.id, data.parent_id)
        team.parent_id = data.parent_id
    if data.name is not None:
        team.name = data.name
    if "manager_id" in data.model_fields_set:
        team.manager_id = data.manager_id
    if data.strategy is not None:
        team.strategy = data.strategy
    await uow.session.flush()
    return team


async def put_member(uow: UnitOfWork, team_id: uuid.UUID, data: MemberIn) -> TeamMember:
    await get_team(uow, team_id)
    member = await uow.session.scalar(
        select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == data.user_id)
    )
    if member is None:
        member = TeamMember(tenant_id=uow.tenant_id, team_id=team_id, user_id=data.user_id)
        uow.session.add(member)
    member.capacity = data.capacity
    member.active = data.active
    await uow.session.flush()
    return member


async def members(uow: UnitOfWork, team_id: uuid.UUID) -> list[TeamMember]:
    await get_team(uow, team_id)
    query = select(TeamMember).where(TeamMember.team_id == team_id).order_by(TeamMember.user_id)
    return list((await uow.session.scalars(query)).all())


async def remove_member(uow: UnitOfWork, team_id: uuid.UUID, user_id: str) -> None:
    member = await uow.session.scalar(
        select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )
    if member is None:
        raise NotFound(f"{user_id} is not a member of team {team_id}.")
    await uow.session.delete(member)
    await uow.session.flush()


async def team_of(uow: UnitOfWork, user_id: str) -> uuid.UUID | None:
    """The user's team (the oldest membership), for stamping new records."""
    return await uow.session.scalar(
        select(TeamMember.team_id)
        .where(TeamMember.user_id == user_id)
        .order_by(TeamMember.joined_at)
        .limit(1)
    )


async def _lock_tree(uow: UnitOfWork) -> None:
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"team-tree:{uow.tenant_id}"}
    )


async def _check_parent(uow: UnitOfWork, team_id: uuid.UUID, parent_id: uuid.UUID | None) -> None:
    current = parent_id
    for _ in range(MAX_DEPTH + 1):
        if current is None:
            return
        if current == team_id:
            raise ValidationFailed(
                "A team cannot be its own ancestor.",
                errors=[
                    {
                        "pointer": "/parent_id",
                        "in": "body",
                        "code": "hierarchy_cycle",
                        "detail": "this parent would create a cycle in the team tree",
                    }
                ],
            )
        current = (await get_team(uow, current)).parent_id
