"""Lead routing: ordered rules pick a team; inside it, round robin or least busy among the
active members with spare capacity (open leads below their cap).

Assignment to a team serialises on the team's row (`FOR UPDATE`), so concurrent intakes cannot
both take a member's last free slot or the same turn of the rotation.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from crm_opportunities.leads.models import Lead, LeadAssignment, RoutingRule
from crm_opportunities.teams.models import Team, TeamMember
from crm_opportunities.teams.service import get_team
from crm_shared.events.opportunities import LeadAssigned
from crm_shared.uow import UnitOfWork

OPEN = ("new", "working")


def matches(conditions: dict[str, Any], lead: Lead) -> bool:
    for name in ("country", "industry", "source"):
        allowed = conditions.get(name)
        if allowed is not None:
            value = getattr(lead, name)
            if value is None or value.lower() not in {str(a).lower() for a in allowed}:
                return False
    low, high = conditions.get("company_size_min"), conditions.get("company_size_max")
    if low is not None or high is not None:
        if lead.company_size is None:
            return False
        if low is not None and lead.company_size < low:
            return False
        if high is not None and lead.company_size > high:
            return False
    return True


async def route(uow: UnitOfWork, lead: Lead) -> bool:
    """Route `lead` by the tenant's rules; True when someone got it."""
    rules = (
        await uow.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.active.is_(True))
            .order_by(RoutingRule.position, RoutingRule.created_at)
        )
    ).all()
    rule = next((r for r in rules if matches(r.conditions, lead)), None)
    if rule is None:
        return False
    team = await get_team(uow, rule.team_id, for_update=True)
    lead.team_id = team.id
    owner = await pick_member(uow, team)
    if owner is None:
        return False  # everyone is at capacity: the team's queue keeps it
    team.rr_last_user = owner
    await assign(uow, lead, owner, team_id=team.id, rule_id=rule.id, reason=team.strategy)
    return True


async def open_loads(uow: UnitOfWork, users: list[str]) -> dict[str, int]:
    rows = await uow.session.execute(
        select(Lead.owner_id, func.count())
        .where(Lead.owner_id.in_(users), Lead.status.in_(OPEN), Lead.converted_at.is_(None))
        .group_by(Lead.owner_id)
    )
    return {str(owner): int(n) for owner, n in rows}


async def pick_member(uow: UnitOfWork, team: Team) -> str | None:
    members = (
        await uow.session.scalars(
            select(TeamMember)
            .where(TeamMember.team_id == team.id, TeamMember.active.is_(True))
            .order_by(TeamMember.user_id)
        )
    ).all()
    if not members:
        return None
    loads = await open_loads(uow, [m.user_id for m in members])
    eligible = [m for m in members if m.capacity is None or loads.get(m.user_id, 0) < m.capacity]
    if not eligible:
        return None
    # Rotation order: the members after the last one served, then from the start.
    last = team.rr_last_user
    after = [m for m in eligible if last is None or m.user_id > last]
    rotation = after + [m for m in eligible if m not in after]
    if team.strategy == "least_busy":
        fewest = min(loads.get(m.user_id, 0) for m in rotation)
        rotation = [m for m in rotation if loads.get(m.user_id, 0) == fewest]
    return rotation[0].user_id


async def assign(
    uow: UnitOfWork,
    lead: Lead,
    owner_id: str,
    *,
    team_id: uuid.UUID | None,
    rule_id: uuid.UUID | None,
    reason: str,
) -> None:
    lead.owner_id = owner_id
    lead.team_id = team_id
    uow.session.add(
        LeadAssignment(
            tenant_id=uow.tenant_id,
            lead_id=lead.id,
            owner_id=owner_id,
            team_id=team_id,
            rule_id=rule_id,
            reason=reason,
            assigned_by=uow.actor,
        )
    )
    uow.publish(
        LeadAssigned(
            tenant_id=uow.tenant_id,
            lead_id=str(lead.id),
            owner_id=owner_id,
            team_id=str(team_id) if team_id else None,
            rule_id=str(rule_id) if rule_id else None,
            reason=reason,
        )
    )
