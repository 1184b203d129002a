"""Bulk ownership transfer: every record of one owner that the caller may see goes to another
owner, each with the event and audit trail a single reassignment has."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from crm_opportunities.deals.events import publish_updated
from crm_opportunities.deals.models import Opportunity
from crm_opportunities.deals.service import check_owner
from crm_opportunities.leads.models import Lead
from crm_opportunities.leads.routing import Assignment, record_assignment
from crm_opportunities.teams.service import Visibility, team_of
from crm_opportunities.transfers.schemas import TransferCreate, TransferRead
from crm_shared.errors import Forbidden
from crm_shared.uow import UnitOfWork


async def transfer(uow: UnitOfWork, vis: Visibility, data: TransferCreate) -> TransferRead:
    if not vis.everything and data.from_owner_id not in vis.users:
        raise Forbidden(f"You cannot transfer the records of {data.from_owner_id}.")
    check_owner(vis, data.to_owner_id)
    team_id = await team_of(uow, data.to_owner_id)
    moved = TransferRead(
        from_owner_id=data.from_owner_id, to_owner_id=data.to_owner_id, leads=0, opportunities=0
    )
    if "leads" in data.records:
        assignment = Assignment(data.to_owner_id, team_id, None, "transfer")
        moved.leads = await _leads(uow, vis, data, assignment)
    if "opportunities" in data.records:
        moved.opportunities = await _deals(uow, vis, data, team_id)
    await uow.session.flush()
    return moved


async def _leads(
    uow: UnitOfWork, vis: Visibility, data: TransferCreate, assignment: Assignment
) -> int:
    """Open leads only: a converted lead's follow-up is its deal."""
    query = select(Lead).where(
        Lead.owner_id == data.from_owner_id,
        Lead.converted_at.is_(None),
        Lead.deleted_at.is_(None),
        vis.clause(Lead.owner_id, Lead.team_id),
    )
    leads = (await uow.session.scalars(query.order_by(Lead.id).with_for_update())).all()
    now = datetime.now(UTC)
    for lead in leads:
        await record_assignment(uow, lead, assignment)
        lead.updated_at = now
    return len(leads)


async def _deals(
    uow: UnitOfWork, vis: Visibility, data: TransferCreate, team_id: uuid.UUID | None
) -> int:
    query = select(Opportunity).where(
        Opportunity.owner_id == data.from_owner_id,
        Opportunity.deleted_at.is_(None),
        vis.clause(Opportunity.owner_id, Opportunity.team_id),
    )
    if not data.include_closed:
        query = query.where(Opportunity.status == "open")
    deals = (await uow.session.scalars(query.order_by(Opportunity.id).with_for_update())).all()
    now = datetime.now(UTC)
    for deal in deals:
        deal.owner_id, deal.team_id, deal.updated_at = data.to_owner_id, team_id, now
    await uow.session.flush()
    for deal in deals:
        publish_updated(uow, deal, ["owner_id"])
    return len(deals)
