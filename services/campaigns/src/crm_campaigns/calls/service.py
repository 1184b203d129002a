"""Call lists: a campaign's audience with phone consent, ordered by value tier (key customers
first), spread over agents round robin; outcomes recorded per call; "interested" creates a
lead in opportunities attributed to the campaign (once, whatever the retries)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.dialects.postgresql import insert

from crm_campaigns.calls.leads import LeadsClient
from crm_campaigns.calls.models import CallEntry, CallList
from crm_campaigns.calls.schemas import CallListCreate, OutcomeBody
from crm_campaigns.campaigns.models import CampaignMember
from crm_campaigns.campaigns.service import get_campaign
from crm_campaigns.projection.models import ProjectedConsent, ProjectedPerson
from crm_campaigns.touches.service import record_touch
from crm_shared.errors import Conflict, NotFound
from crm_shared.uow import UnitOfWork

P = ProjectedPerson.__table__.c
C = ProjectedConsent.__table__.c
M = CampaignMember.__table__.c
TIER_RANK = {"key": 1, "standard": 2, "low": 3, "unprofitable": 4}


async def build_call_list(
    uow: UnitOfWork, campaign_id: uuid.UUID, data: CallListCreate
) -> tuple[CallList, int, dict[str, int]]:
    campaign = await get_campaign(uow, campaign_id)
    if campaign.audience_built_at is None:
        raise Conflict("Build the campaign's audience before its call list.")
    call_list = CallList(
        tenant_id=uow.tenant_id, campaign_id=campaign.id, name=data.name, agent_ids=data.agent_ids
    )
    uow.session.add(call_list)
    await uow.session.flush()
    phone_consent = exists().where(
        C.tenant_id == P.tenant_id,
        C.contact_id == P.contact_id,
        C.channel == "phone",
        C.purpose == "marketing",
        C.status == "granted",
    )
    rank = case(
        *((P.value_tier == tier, value) for tier, value in TIER_RANK.items()),
        else_=3,
    )
    callable_ = and_(P.phone.is_not(None), ~P.do_not_contact, phone_consent)
    rows = (
        await uow.session.execute(
            select(P.contact_id, P.value_tier, rank.label("rank"), callable_.label("ok"))
            .select_from(
                CampaignMember.__table__.join(
                    ProjectedPerson.__table__,
                    and_(P.tenant_id == M.tenant_id, P.contact_id == M.contact_id),
                )
            )
            .where(M.campaign_id == campaign.id, P.deleted_at.is_(None), P.erased_at.is_(None))
            .order_by(rank, P.contact_id)
        )
    ).all()
    entries: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        if not row.ok:
            skipped += 1
            continue
        position = len(entries)
        entries.append(
            {
                "tenant_id": uow.tenant_id,
                "call_list_id": call_list.id,
                "contact_id": row.contact_id,
                "priority": row.rank,
                "position": position + 1,
                "value_tier": row.value_tier,
                "agent_id": data.agent_ids[position % len(data.agent_ids)],
                "attempts": 0,
            }
        )
    if entries:
        await uow.session.execute(insert(CallEntry), entries)
    return call_list, len(entries), {"no_phone_consent_or_number": skipped}


async def get_call_list(uow: UnitOfWork, call_list_id: uuid.UUID) -> CallList:
    call_list = await uow.session.get(CallList, call_list_id)
    if call_list is None:
        raise NotFound(f"Call list {call_list_id} not found.")
    return call_list


async def list_entries(
    uow: UnitOfWork, call_list_id: uuid.UUID, agent_id: str | None, open_only: bool
) -> list[CallEntry]:
    await get_call_list(uow, call_list_id)
    query = select(CallEntry).where(CallEntry.call_list_id == call_list_id)
    if agent_id:
        query = query.where(CallEntry.agent_id == agent_id)
    if open_only:
        query = query.where(
            CallEntry.outcome.is_(None) | CallEntry.outcome.in_(("no_answer", "call_back"))
        )
    query = query.order_by(
        func.coalesce(CallEntry.callback_at, literal(datetime.min.replace(tzinfo=UTC))),
        CallEntry.position,
    ).limit(1000)
    return list((await uow.session.scalars(query)).all())


async def record_outcome(
    uow: UnitOfWork,
    call_list_id: uuid.UUID,
    contact_id: uuid.UUID,
    data: OutcomeBody,
    leads: LeadsClient,
) -> CallEntry:
    call_list = await get_call_list(uow, call_list_id)
    entry = await uow.session.scalar(
        select(CallEntry)
        .where(
            CallEntry.tenant_id == uow.tenant_id,
            CallEntry.call_list_id == call_list_id,
            CallEntry.contact_id == contact_id,
        )
        .with_for_update()
    )
    if entry is None:
        raise NotFound("This person is not on the call list.")
    if entry.outcome in ("interested", "not_interested"):
        raise Conflict(f"This call already ended as {entry.outcome}.")
    entry.outcome = data.outcome
    entry.callback_at = data.callback_at if data.outcome == "call_back" else None
    entry.notes = data.notes
    entry.attempts += 1
    entry.updated_at = datetime.now(UTC)
    if data.outcome == "interested":
        person = await uow.session.get(ProjectedPerson, (uow.tenant_id, contact_id))
        body = {
            "first_name": person.first_name if person else None,
            "last_name": person.last_name if person else None,
            "email": person.email if person else None,
            "phone": person.phone if person else None,
            "country": person.country if person else None,
            "source": "telemarketing",
            "campaign_id": str(call_list.campaign_id),
            "message": data.notes,
        }
        # The database row stays locked while opportunities answers: a retry of this outcome
        # waits, then finds the entry ended. The key makes the lead itself exactly once.
        entry.lead_id = await leads.create_lead(
            uow.tenant_id,
            f"campaigns-call-{call_list_id}-{contact_id}",
            {k: v for k, v in body.items() if v is not None},
        )
        campaign = await get_campaign(uow, call_list.campaign_id)
        await record_touch(
            uow,
            campaign,
            contact_id,
            "responded",
            provider_event_id=f"call:{call_list_id}:{contact_id}",
        )
    await uow.session.flush()
    return entry
