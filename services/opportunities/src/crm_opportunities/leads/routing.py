"""Lead routing: ordered rules pick a team; inside it, round robin or least busy among the
active members with spare capacity (open leads below their cap).

Assignment to a team serialises on the team's row (`FOR UPDATE`), so concurrent intakes cannot
both take a member's last free slot or the same turn of the rotation. Intake is the hot path
and that lock its bottleneck, so the statements here are fixed SQL on the driver, and the
fewest of them run while the lock is held.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_opportunities.leads.models import Lead
from crm_shared.events.opportunities import LeadAssigned
from crm_shared.ids import uuid7
from crm_shared.uow import UnitOfWork

ACTIVE_RULES = """
    SELECT id, conditions, team_id FROM routing_rules WHERE active ORDER BY position, created_at
"""
LOCK_TEAM = """
    SELECT strategy, rr_last_user FROM teams WHERE id = $1 AND deleted_at IS NULL FOR UPDATE
"""
# A separate statement from LOCK_TEAM on purpose: under READ COMMITTED a statement sees the
# rows committed before it began, so the loads must be read after the lock is granted.
MEMBERS_WITH_LOADS = """
    SELECT m.user_id, m.capacity,
      (SELECT count(*) FROM leads l WHERE l.owner_id = m.user_id
         AND l.status IN ('new', 'working') AND l.converted_at IS NULL) AS open_leads
    FROM team_members m WHERE m.team_id = $1 AND m.active ORDER BY m.user_id
"""
# The rotation's bookmark is not an edit of the team: its version (ETag) stays.
TAKE_TURN = "UPDATE teams SET rr_last_user = $1 WHERE id = $2"
RECORD = """
    INSERT INTO lead_assignments
      (id, tenant_id, lead_id, owner_id, team_id, rule_id, reason, assigned_by, assigned_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


@dataclass(frozen=True)
class Assignment:
    owner_id: str
    team_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    reason: str


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


async def route(uow: UnitOfWork, lead: Lead) -> Assignment | None:
    """Route `lead` by the tenant's rules: who gets it, or None. A lead whose team has nobody
    with spare capacity stays in that team's queue (`lead.team_id` is set)."""
    driver = await uow.driver()
    rules = await driver.fetch(ACTIVE_RULES)
    rule = next((r for r in rules if matches(r["conditions"], lead)), None)
    if rule is None:
        return None
    team = await driver.fetchrow(LOCK_TEAM, rule["team_id"])
    if team is None:
        return None
    lead.team_id = rule["team_id"]
    members = await driver.fetch(MEMBERS_WITH_LOADS, rule["team_id"])
    owner = pick_member(members, team["strategy"], team["rr_last_user"])
    if owner is None:
        return None
    await driver.execute(TAKE_TURN, owner, rule["team_id"])
    return Assignment(owner, rule["team_id"], rule["id"], team["strategy"])


def pick_member(members: list[Any], strategy: str, last: str | None) -> str | None:
    """`members`: (user_id, capacity, open_leads) rows in user_id order."""
    eligible = [m for m in members if m["capacity"] is None or m["open_leads"] < m["capacity"]]
    if not eligible:
        return None
    # Rotation order: the members after the last one served, then from the start.
    after = [m for m in eligible if last is None or m["user_id"] > last]
    rotation = after + [m for m in eligible if m not in after]
    if strategy == "least_busy":
        fewest = min(m["open_leads"] for m in rotation)
        rotation = [m for m in rotation if m["open_leads"] == fewest]
    return str(rotation[0]["user_id"])


async def record_assignment(uow: UnitOfWork, lead: Lead, assignment: Assignment) -> None:
    """Give `lead` to the assignment's owner: the audit row and the event. The lead's row
    must exist already (the audit row refers to it)."""
    lead.owner_id, lead.team_id = assignment.owner_id, assignment.team_id
    await (await uow.driver()).execute(
        RECORD,
        uuid7(),
        uow.tenant_id,
        lead.id,
        assignment.owner_id,
        assignment.team_id,
        assignment.rule_id,
        assignment.reason,
        uow.actor,
        datetime.now(UTC),
    )
    uow.publish(
        LeadAssigned(
            tenant_id=uow.tenant_id,
            lead_id=str(lead.id),
            owner_id=assignment.owner_id,
            team_id=str(assignment.team_id) if assignment.team_id else None,
            rule_id=str(assignment.rule_id) if assignment.rule_id else None,
            reason=assignment.reason,
        )
    )
