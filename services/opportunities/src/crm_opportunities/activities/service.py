"""Sales activities: tasks, calls and meetings with due dates and assignees. Completing a call
or a meeting about a known person puts it on the customer timeline (`interaction.logged`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from crm_opportunities.activities.models import Activity
from crm_opportunities.activities.schemas import ActivityComplete, ActivityCreate, ActivityFilters
from crm_opportunities.deals.service import check_owner, get_opportunity
from crm_opportunities.teams.service import Visibility, team_of
from crm_shared.errors import Conflict, NotFound
from crm_shared.events.common import SourceRef
from crm_shared.events.opportunities import SalesInteractionLogged
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

CHANNEL = {"call": "phone", "meeting": "in_person"}


async def create_activity(uow: UnitOfWork, vis: Visibility, data: ActivityCreate) -> Activity:
    assignee = data.assignee_id or vis.user_id
    check_owner(vis, assignee)
    person_id, company_id = data.person_id, data.company_id
    if data.opportunity_id is not None:
        opp = await get_opportunity(uow, vis, data.opportunity_id)
        person_id = person_id or opp.person_id
        company_id = company_id or opp.company_id
    activity = Activity(
        tenant_id=uow.tenant_id,
        kind=data.kind,
        subject=data.subject,
        notes=data.notes,
        due_at=data.due_at,
        assignee_id=assignee,
        team_id=await team_of(uow, assignee),
        person_id=person_id,
        company_id=company_id,
        opportunity_id=data.opportunity_id,
        lead_id=data.lead_id,
        direction=data.direction,
        status="open",
    )
    uow.session.add(activity)
    await uow.session.flush()
    return activity


async def get_activity(
    uow: UnitOfWork, vis: Visibility, activity_id: uuid.UUID, *, for_update: bool = False
) -> Activity:
    query = select(Activity).where(
        Activity.id == activity_id,
        Activity.deleted_at.is_(None),
        vis.clause(Activity.assignee_id, Activity.team_id),
    )
    activity = await uow.session.scalar(query.with_for_update() if for_update else query)
    if activity is None:
        raise NotFound(f"No activity {activity_id}.")
    return activity


async def list_activities(
    uow: UnitOfWork,
    vis: Visibility,
    f: ActivityFilters,
    page: PageParams,
    *,
    overdue: bool = False,
) -> list[Activity]:
    query = select(Activity).where(
        Activity.deleted_at.is_(None), vis.clause(Activity.assignee_id, Activity.team_id)
    )
    for name in ("assignee_id", "opportunity_id", "person_id", "status"):
        value = getattr(f, name)
        if value is not None:
            query = query.where(getattr(Activity, name) == value)
    if overdue:
        query = query.where(Activity.status == "open", Activity.due_at < datetime.now(UTC))
    if page.cursor:
        query = query.where(Activity.id > uuid.UUID(str(page.cursor[0])))
    query = query.order_by(Activity.id).limit(page.limit + 1)
    return list((await uow.session.scalars(query)).all())


async def complete(
    uow: UnitOfWork, vis: Visibility, activity_id: uuid.UUID, data: ActivityComplete
) -> Activity:
    activity = await get_activity(uow, vis, activity_id, for_update=True)
    if activity.status == "done":
        raise Conflict("This activity is already completed.")
    now = datetime.now(UTC)
    activity.status, activity.completed_at, activity.outcome = "done", now, data.outcome
    activity.updated_at = now
    await uow.session.flush()
    if activity.kind in CHANNEL and activity.person_id is not None:
        uow.publish(
            SalesInteractionLogged(
                tenant_id=uow.tenant_id,
                contact_id=str(activity.person_id),
                interaction_id=str(activity.id),
                company_id=str(activity.company_id) if activity.company_id else None,
                channel=CHANNEL[activity.kind],
                direction=activity.direction,
                kind=activity.kind,
                occurred_at=now,
                summary=activity.subject,
                actor_id=uow.actor,
                source=SourceRef(service="opportunities", entity="activity", id=str(activity.id)),
                opportunity_id=str(activity.opportunity_id) if activity.opportunity_id else None,
            )
        )
    return activity
