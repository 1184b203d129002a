"""What analytics consumes: every `crm.*.v1` topic and the ERP's `erp.orders.v1`.

Each handler validates the event with its catalog model (extra fields from newer producers are
accepted), updates the read models with idempotent upserts and files a timeline entry. Types
not listed here are counted and skipped by the consumer runner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import delete, select, update

from crm_analytics.projections.batch import write_buffered
from crm_analytics.projections.models import (
    Campaign,
    CampaignTouch,
    Company,
    Consent,
    Contact,
    ContactCompany,
    Contract,
    ContractEnd,
    Csat,
    Invoice,
    Opportunity,
    Order,
    SurveyAnswer,
    Ticket,
)
from crm_analytics.projections.service import (
    Entry,
    add_entry,
    link_alias,
    resolve,
    unlink_merged,
    upsert,
)
from crm_analytics.scores.schedule import request_recompute
from crm_analytics.scores.service import is_erased, scrub_person
from crm_shared.consumer import Handler, Subscription
from crm_shared.events import campaigns as cmp
from crm_shared.events import contacts as ct
from crm_shared.events import erp
from crm_shared.events import opportunities as opp
from crm_shared.events import tickets as tk
from crm_shared.events.common import CAMPAIGNS, CONTACTS, OPPORTUNITIES, TICKETS
from crm_shared.events.envelope import EventData, InboundEvent
from crm_shared.uow import UnitOfWork

E = TypeVar("E", bound=EventData)
HANDLERS: dict[tuple[str, str], Handler] = {}


def on(
    model: type[E], *topics: str
) -> Callable[[Callable[[UnitOfWork, InboundEvent, E], Awaitable[None]]], None]:
    """Register a handler for `model` (on its own topic, or on each of `topics`)."""

    def register(fn: Callable[[UnitOfWork, InboundEvent, E], Awaitable[None]]) -> None:
        async def handler(uow: UnitOfWork, event: InboundEvent) -> None:
            await fn(uow, event, model.model_validate(event.data))

        for topic in topics or (model.topic,):
            HANDLERS[(topic, model.type)] = handler

    return register


def money(amount: Decimal | None, currency: str | None) -> str:
    return f"{amount} {currency or ''}".strip() if amount is not None else ""


def moment(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- people and companies ---------------------------------------------------------------------


async def _apply_contact(uow: UnitOfWork, event: InboundEvent, snap: ct.ContactSnapshot) -> None:
    current = (
        await uow.session.execute(
            select(Contact.version, Contact.erased_at).where(Contact.contact_id == snap.contact_id)
        )
    ).first()
    if current is not None and (current.version >= snap.version or current.erased_at is not None):
        return  # an older snapshot arriving late, or a person erased
    survivor = await resolve(uow, snap.contact_id)
    await upsert(
        uow,
        Contact,
        {
            "contact_id": snap.contact_id,
            "first_name": snap.first_name,
            "last_name": snap.last_name,
            "primary_email": snap.primary_email,
            "lifecycle_stage": snap.lifecycle_stage,
            "owner_id": snap.owner_id,
            "snapshot": snap.model_dump(mode="json"),
            "version": snap.version,
            "first_seen_at": event.time,
            # merged before its own creation arrived (another partition): same row either way
            "merged_into": survivor if survivor != snap.contact_id else None,
        },
        update_cols=[
            "first_name",
            "last_name",
            "primary_email",
            "lifecycle_stage",
            "owner_id",
            "snapshot",
            "version",
        ],
    )
    # the snapshot carries the person's companies in full: left companies drop out
    await uow.session.execute(
        delete(ContactCompany).where(
            ContactCompany.contact_id == snap.contact_id,
            ContactCompany.company_id.not_in(snap.company_ids),
        )
    )
    for company_id in snap.company_ids:
        await upsert(uow, ContactCompany, {"contact_id": snap.contact_id, "company_id": company_id})


@on(ct.ContactCreated)
async def contact_created(uow: UnitOfWork, event: InboundEvent, e: ct.ContactCreated) -> None:
    await _apply_contact(uow, event, e.contact)
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=event.time,
            type="contact.created",
            contact_id=await resolve(uow, e.contact_id),  # merged before this arrived
            source_service="contacts",
            source_entity="person",
            source_id=e.contact_id,
            summary="Person created",
            actor_id=e.contact.owner_id,
        ),
    )


@on(ct.ContactUpdated)
async def contact_updated(uow: UnitOfWork, event: InboundEvent, e: ct.ContactUpdated) -> None:
    await _apply_contact(uow, event, e.contact)


@on(ct.ContactDeleted)
async def contact_deleted(uow: UnitOfWork, event: InboundEvent, e: ct.ContactDeleted) -> None:
    await uow.session.execute(
        update(Contact).where(Contact.contact_id == e.contact_id).values(deleted_at=event.time)
    )


@on(ct.ContactErased)
async def contact_erased(uow: UnitOfWork, event: InboundEvent, e: ct.ContactErased) -> None:
    await scrub_person(uow, e.contact_id, moment(e.erased_at))


@on(ct.ContactMerged)
async def contact_merged(uow: UnitOfWork, event: InboundEvent, e: ct.ContactMerged) -> None:
    await request_recompute(uow)  # the duplicates' orders now count for the survivor
    for merged in e.merged_ids:
        await link_alias(uow, merged, e.contact_id, "merged")
        await uow.session.execute(
            update(Contact).where(Contact.contact_id == merged).values(merged_into=e.contact_id)
        )
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=event.time,
            type="contact.merged",
            contact_id=e.contact_id,
            source_service="contacts",
            source_entity="person",
            source_id=e.contact_id,
            summary=f"Merged {len(e.merged_ids)} duplicate(s) into this person",
        ),
    )


async def contact_unmerged(uow: UnitOfWork, event: InboundEvent) -> None:
    """`crm.contact.unmerged` (contact_id: the survivor, restored_ids): the restored people get
    back every row their producers filed under them. Parsed by field name so analytics does not
    depend on the catalog class."""
    survivor = str(event.data["contact_id"])
    restored = [str(r) for r in event.data.get("restored_ids") or []]
    for restored_id in restored:
        await unlink_merged(uow, restored_id)
        await uow.session.execute(
            update(Contact).where(Contact.contact_id == restored_id).values(merged_into=None)
        )
    await request_recompute(uow)
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=event.time,
            type="contact.unmerged",
            contact_id=survivor,
            source_service="contacts",
            source_entity="person",
            source_id=survivor,
            summary=f"Undid the merge of {len(restored)} person(s)",
        ),
    )


HANDLERS[(CONTACTS, "crm.contact.unmerged")] = contact_unmerged


@on(ct.ContactOwnerChanged)
async def contact_owner(uow: UnitOfWork, event: InboundEvent, e: ct.ContactOwnerChanged) -> None:
    await uow.session.execute(
        update(Contact).where(Contact.contact_id == e.contact_id).values(owner_id=e.owner_id)
    )


@on(ct.ContactRoleAdded)
async def role_added(uow: UnitOfWork, event: InboundEvent, e: ct.ContactRoleAdded) -> None:
    await upsert(uow, ContactCompany, {"contact_id": e.contact_id, "company_id": e.company_id})


@on(ct.ContactRoleUpdated)
async def role_updated(uow: UnitOfWork, event: InboundEvent, e: ct.ContactRoleUpdated) -> None:
    await upsert(uow, ContactCompany, {"contact_id": e.contact_id, "company_id": e.company_id})


@on(ct.ContactRoleRemoved)
async def role_removed(uow: UnitOfWork, event: InboundEvent, e: ct.ContactRoleRemoved) -> None:
    await uow.session.execute(
        delete(ContactCompany).where(
            ContactCompany.contact_id == e.contact_id, ContactCompany.company_id == e.company_id
        )
    )


async def _apply_company(uow: UnitOfWork, snap: ct.CompanySnapshot) -> None:
    current = await uow.session.scalar(
        select(Company.version).where(Company.company_id == snap.company_id)
    )
    if current is not None and current >= snap.version:
        return
    await upsert(
        uow,
        Company,
        {
            "company_id": snap.company_id,
            "name": snap.name,
            "parent_id": snap.parent_id,
            "snapshot": snap.model_dump(mode="json"),
            "version": snap.version,
        },
    )


@on(ct.CompanyCreated)
async def company_created(uow: UnitOfWork, event: InboundEvent, e: ct.CompanyCreated) -> None:
    await _apply_company(uow, e.company)
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=event.time,
            type="company.created",
            company_id=e.company_id,
            source_service="contacts",
            source_entity="company",
            source_id=e.company_id,
            summary=f"Company {e.company.name} created",
        ),
    )


@on(ct.CompanyUpdated)
async def company_updated(uow: UnitOfWork, event: InboundEvent, e: ct.CompanyUpdated) -> None:
    await _apply_company(uow, e.company)


@on(ct.CompanyDeleted)
async def company_deleted(uow: UnitOfWork, event: InboundEvent, e: ct.CompanyDeleted) -> None:
    await uow.session.execute(
        update(Company).where(Company.company_id == e.company_id).values(deleted_at=event.time)
    )


async def _consent(
    uow: UnitOfWork, event: InboundEvent, e: ct.ConsentGranted | ct.ConsentWithdrawn, status: str
) -> None:
    contact_id = await resolve(uow, e.contact_id)
    at = moment(e.captured_at)
    key = {"contact_id": contact_id, "channel": e.channel, "purpose": e.purpose}
    latest = await uow.session.scalar(select(Consent.captured_at).filter_by(**key))
    if latest is None or latest <= at:
        await upsert(uow, Consent, key | {"status": status, "captured_at": at})
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=at,
            type=f"consent.{status}",
            contact_id=contact_id,
            channel=e.channel if e.channel != "post" else "letter",
            source_service=event.source.rsplit("/", 1)[-1] or "contacts",
            source_entity="consent",
            source_id=e.entry_id or event.id,
            summary=f"Consent {status}: {e.channel} / {e.purpose} ({e.source})",
        ),
    )


@on(ct.ConsentGranted)
async def consent_granted(uow: UnitOfWork, event: InboundEvent, e: ct.ConsentGranted) -> None:
    await _consent(uow, event, e, "granted")


@on(ct.ConsentWithdrawn)
async def consent_withdrawn(uow: UnitOfWork, event: InboundEvent, e: ct.ConsentWithdrawn) -> None:
    await _consent(uow, event, e, "withdrawn")


@on(ct.ConsentCorrected)
async def consent_corrected(uow: UnitOfWork, event: InboundEvent, e: ct.ConsentCorrected) -> None:
    """Entries we saw were voided (a merge undone): the state contacts gives wins, whatever
    its time (the voided entries may be newer)."""
    contact_id = await resolve(uow, e.contact_id)
    key = {"contact_id": contact_id, "channel": e.channel, "purpose": e.purpose}
    await uow.session.execute(delete(Consent).filter_by(**key))
    if e.status != "none" and e.captured_at is not None:
        await upsert(uow, Consent, key | {"status": e.status, "captured_at": moment(e.captured_at)})


@on(cmp.CampaignConsentWithdrawn)
async def unsubscribed(
    uow: UnitOfWork, event: InboundEvent, e: cmp.CampaignConsentWithdrawn
) -> None:
    await _consent(uow, event, e, "withdrawn")


@on(ct.InteractionLogged, CONTACTS, OPPORTUNITIES, CAMPAIGNS, TICKETS)
async def interaction(uow: UnitOfWork, event: InboundEvent, e: ct.InteractionLogged) -> None:
    contact_id = await resolve(uow, e.contact_id)
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=moment(e.occurred_at),
            type="interaction.logged",
            kind=e.kind,
            contact_id=contact_id,
            company_id=e.company_id,
            channel=e.channel,
            direction=e.direction,
            source_service=e.source.service,
            source_entity=e.source.entity,
            source_id=e.source.id,
            summary=None if await is_erased(uow, contact_id) else e.summary,
            actor_id=e.actor_id,
            key=f"interaction|{e.source.service}|{e.source.entity}|{e.source.id}",
        ),
    )


# --- leads, deals, quotes ---------------------------------------------------------------------


async def _lead_entry(
    uow: UnitOfWork,
    event: InboundEvent,
    lead_id: str,
    type_: str,
    summary: str,
    actor: str | None = None,
) -> None:
    survivor = await resolve(uow, lead_id)
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=event.time,
            type=type_,
            lead_id=lead_id,
            contact_id=survivor if survivor != lead_id else None,
            source_service="opportunities",
            source_entity="lead",
            source_id=lead_id,
            summary=summary,
            actor_id=actor,
        ),
    )


@on(opp.LeadCreated)
async def lead_created(uow: UnitOfWork, event: InboundEvent, e: opp.LeadCreated) -> None:
    origin = e.attribution.source or e.attribution.utm_source or "unknown source"
    await _lead_entry(uow, event, e.lead_id, "lead.created", f"Lead created ({origin})")


@on(opp.LeadAssigned)
async def lead_assigned(uow: UnitOfWork, event: InboundEvent, e: opp.LeadAssigned) -> None:
    await _lead_entry(
        uow, event, e.lead_id, "lead.assigned", f"Lead assigned ({e.reason})", e.owner_id
    )


@on(opp.LeadDisqualified)
async def lead_disqualified(uow: UnitOfWork, event: InboundEvent, e: opp.LeadDisqualified) -> None:
    await _lead_entry(uow, event, e.lead_id, "lead.disqualified", f"Lead disqualified: {e.reason}")


@on(opp.LeadConverted)
async def lead_converted(uow: UnitOfWork, event: InboundEvent, e: opp.LeadConverted) -> None:
    contact_id = await resolve(uow, e.contact_id)
    await link_alias(uow, e.lead_id, contact_id, "lead")
    await _lead_entry(uow, event, e.lead_id, "lead.converted", "Lead converted to a customer")


async def _opportunity(uow: UnitOfWork, e: opp._OpportunityEvent, **values: object) -> str:
    contact_id = await resolve(uow, e.contact_id)
    base: dict[str, object] = {
        "opportunity_id": e.opportunity_id,
        "contact_id": contact_id,
        "origin_contact_id": e.contact_id,
        "company_id": e.company_id,
        "amount": e.amount,
        "currency": e.currency,
        "status": "open",
    }
    await upsert(uow, Opportunity, base | values, update_cols=["contact_id", *values])
    if e.amount is not None:
        await uow.session.execute(
            update(Opportunity)
            .where(Opportunity.opportunity_id == e.opportunity_id)
            .values(amount=e.amount, currency=e.currency)
        )
    return contact_id


def _deal_entry(
    e: opp._OpportunityEvent, contact_id: str, at: datetime, type_: str, summary: str
) -> Entry:
    return Entry(
        occurred_at=at,
        type=type_,
        contact_id=contact_id,
        company_id=e.company_id,
        source_service="opportunities",
        source_entity="opportunity",
        source_id=e.opportunity_id,
        summary=summary,
        actor_id=e.owner_id,
    )


@on(opp.OpportunityCreated)
async def opp_created(uow: UnitOfWork, event: InboundEvent, e: opp.OpportunityCreated) -> None:
    contact_id = await _opportunity(uow, e, name=e.name[:200], created_at=event.time)
    # a won/lost that arrived first keeps its status: only set the stage while still open
    await uow.session.execute(
        update(Opportunity)
        .where(Opportunity.opportunity_id == e.opportunity_id, Opportunity.stage_id.is_(None))
        .values(stage_id=e.stage_id)
    )
    text = f"Opportunity {e.name} opened {money(e.amount, e.currency)}".strip()
    await add_entry(uow, event, _deal_entry(e, contact_id, event.time, "opportunity.created", text))


@on(opp.OpportunityStageChanged)
async def opp_stage(uow: UnitOfWork, event: InboundEvent, e: opp.OpportunityStageChanged) -> None:
    contact_id = await _opportunity(uow, e, stage_id=e.to_stage_id)
    await add_entry(
        uow,
        event,
        _deal_entry(
            e,
            contact_id,
            moment(e.changed_at),
            "opportunity.stage_changed",
            f"Deal moved to stage {e.to_stage_id}",
        ),
    )


@on(opp.OpportunityWon)
async def opp_won(uow: UnitOfWork, event: InboundEvent, e: opp.OpportunityWon) -> None:
    at = moment(e.won_at)
    contact_id = await _opportunity(uow, e, status="won", closed_at=at)
    text = f"Deal won {money(e.amount, e.currency)}".strip()
    await add_entry(uow, event, _deal_entry(e, contact_id, at, "opportunity.won", text))


@on(opp.OpportunityLost)
async def opp_lost(uow: UnitOfWork, event: InboundEvent, e: opp.OpportunityLost) -> None:
    at = moment(e.lost_at)
    contact_id = await _opportunity(uow, e, status="lost", closed_at=at)
    text = f"Deal lost{': ' + e.reason if e.reason else ''}"
    await add_entry(uow, event, _deal_entry(e, contact_id, at, "opportunity.lost", text))


async def _quote(uow: UnitOfWork, event: InboundEvent, e: opp._QuoteEvent, verb: str) -> None:
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=event.time,
            type=f"quote.{verb}",
            contact_id=await resolve(uow, e.contact_id),
            channel="email" if verb == "sent" else None,
            direction="outbound" if verb == "sent" else "inbound",
            source_service="opportunities",
            source_entity="quote",
            source_id=e.quote_id,
            summary=f"Quote {verb} {money(e.total, e.currency)}",
        ),
    )


@on(opp.QuoteSent)
async def quote_sent(uow: UnitOfWork, event: InboundEvent, e: opp.QuoteSent) -> None:
    await _quote(uow, event, e, "sent")


@on(opp.QuoteAccepted)
async def quote_accepted(uow: UnitOfWork, event: InboundEvent, e: opp.QuoteAccepted) -> None:
    await _quote(uow, event, e, "accepted")


# --- campaigns and surveys --------------------------------------------------------------------

INBOUND_TOUCHES = {"opened", "clicked", "responded", "unsubscribed"}


async def _campaign(uow: UnitOfWork, e: cmp._CampaignEvent, **values: object) -> None:
    base: dict[str, object] = {
        "campaign_id": e.campaign_id,
        "name": e.name[:200],
        "channel": e.channel[:16],
        "status": "scheduled",
    }
    await upsert(uow, Campaign, base | values, update_cols=["name", "channel", *values])


@on(cmp.CampaignScheduled)
async def campaign_scheduled(
    uow: UnitOfWork, event: InboundEvent, e: cmp.CampaignScheduled
) -> None:
    await _campaign(uow, e, budget=e.budget, currency=e.currency)


@on(cmp.CampaignLaunched)
async def campaign_launched(uow: UnitOfWork, event: InboundEvent, e: cmp.CampaignLaunched) -> None:
    await _campaign(uow, e)
    await uow.session.execute(
        update(Campaign)
        .where(Campaign.campaign_id == e.campaign_id, Campaign.status == "scheduled")
        .values(status="running")
    )


@on(cmp.CampaignCompleted)
async def campaign_completed(
    uow: UnitOfWork, event: InboundEvent, e: cmp.CampaignCompleted
) -> None:
    values: dict[str, object] = {"status": "completed", "actual_cost": e.actual_cost}
    if e.currency:
        values["currency"] = e.currency
    await _campaign(uow, e, **values)


@on(cmp.CampaignTouchRecorded)
async def touch(uow: UnitOfWork, event: InboundEvent, e: cmp.CampaignTouchRecorded) -> None:
    contact_id = await resolve(uow, e.contact_id)
    await upsert(
        uow,
        CampaignTouch,
        {
            "touch_id": e.touch_id,
            "campaign_id": e.campaign_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "kind": e.kind,
            "occurred_at": moment(e.occurred_at),
        },
    )
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=moment(e.occurred_at),
            type="campaign.touch_recorded",
            kind=e.kind,
            contact_id=contact_id,
            channel=e.channel,
            direction="inbound" if e.kind in INBOUND_TOUCHES else "outbound",
            source_service="campaigns",
            source_entity="campaign",
            source_id=e.campaign_id,
            summary=f"Campaign {e.kind}",
            key=f"touch|{e.touch_id}",
        ),
    )


@on(cmp.SurveyAnswered)
async def survey(uow: UnitOfWork, event: InboundEvent, e: cmp.SurveyAnswered) -> None:
    contact_id = await resolve(uow, e.contact_id)
    at = moment(e.answered_at)
    await upsert(
        uow,
        SurveyAnswer,
        {
            "response_id": e.response_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "survey_id": e.survey_id,
            "answered_at": at,
            "nps_score": e.nps_score,
            "satisfaction": e.satisfaction,
            "repurchase_intent": e.repurchase_intent,
        },
    )
    parts = [f"NPS {e.nps_score}" if e.nps_score is not None else None]
    parts.append(f"satisfaction {e.satisfaction}/5" if e.satisfaction is not None else None)
    await add_entry(
        uow,
        event,
        Entry(
            occurred_at=at,
            type="survey.answered",
            contact_id=contact_id,
            channel="web",
            direction="inbound",
            source_service="campaigns",
            source_entity="survey",
            source_id=e.survey_id,
            summary="Survey answered"
            + (f" ({', '.join(p for p in parts if p)})" if any(parts) else ""),
            key=f"survey|{e.response_id}",
        ),
    )


# --- tickets ----------------------------------------------------------------------------------


def _ticket_entry(
    e: tk._TicketEvent, contact_id: str, at: datetime, type_: str, summary: str, **extra: str | None
) -> Entry:
    return Entry(
        occurred_at=at,
        type=type_,
        contact_id=contact_id,
        source_service="tickets",
        source_entity="ticket",
        source_id=e.ticket_id,
        summary=summary,
        channel=extra.get("channel"),
        direction=extra.get("direction"),
        actor_id=extra.get("actor_id"),
    )


async def _ticket(uow: UnitOfWork, e: tk._TicketEvent, **values: object) -> str:
    contact_id = await resolve(uow, e.contact_id)
    base: dict[str, object] = {
        "ticket_id": e.ticket_id,
        "contact_id": contact_id,
        "origin_contact_id": e.contact_id,
        "status": "new",
    }
    await upsert(uow, Ticket, base | values, update_cols=["contact_id", *values])
    return contact_id


@on(tk.TicketCreated)
async def ticket_created(uow: UnitOfWork, event: InboundEvent, e: tk.TicketCreated) -> None:
    contact_id = await _ticket(uow, e, priority=e.priority[:16], created_at=event.time)
    subject = "Ticket opened" if await is_erased(uow, contact_id) else e.subject
    await add_entry(
        uow,
        event,
        _ticket_entry(
            e,
            contact_id,
            event.time,
            "ticket.created",
            subject,
            channel=e.channel,
            direction="inbound",
        ),
    )


@on(tk.TicketStatusChanged)
async def ticket_status(uow: UnitOfWork, event: InboundEvent, e: tk.TicketStatusChanged) -> None:
    contact_id = await resolve(uow, e.contact_id)
    await upsert(
        uow,
        Ticket,
        {
            "ticket_id": e.ticket_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "status": e.to_status[:32],
        },
        update_cols=[],
    )
    await uow.session.execute(
        update(Ticket)
        .where(Ticket.ticket_id == e.ticket_id, Ticket.solved_at.is_(None))
        .values(status=e.to_status[:32])
    )


@on(tk.TicketMessageAdded)
async def ticket_message(uow: UnitOfWork, event: InboundEvent, e: tk.TicketMessageAdded) -> None:
    if not e.public:
        return  # internal notes are not touchpoints with the customer
    contact_id = await resolve(uow, e.contact_id)
    entry = _ticket_entry(
        e,
        contact_id,
        moment(e.occurred_at),
        "ticket.message_added",
        "Reply to the customer" if e.direction == "outbound" else "Message from the customer",
        channel=e.channel,
        direction=e.direction,
    )
    await add_entry(uow, event, entry)


@on(tk.TicketSlaBreached)
async def ticket_breached(uow: UnitOfWork, event: InboundEvent, e: tk.TicketSlaBreached) -> None:
    await _ticket(uow, e, sla_breached=True)


@on(tk.TicketSolved)
async def ticket_solved(uow: UnitOfWork, event: InboundEvent, e: tk.TicketSolved) -> None:
    at = moment(e.solved_at)
    contact_id = await _ticket(
        uow,
        e,
        status="solved",
        solved_at=at,
        first_response_seconds=e.first_response_seconds,
        resolution_seconds=e.resolution_seconds,
    )
    await add_entry(uow, event, _ticket_entry(e, contact_id, at, "ticket.solved", "Ticket solved"))


@on(tk.CsatSubmitted)
async def csat(uow: UnitOfWork, event: InboundEvent, e: tk.CsatSubmitted) -> None:
    contact_id = await resolve(uow, e.contact_id)
    at = moment(e.submitted_at)
    await upsert(
        uow,
        Csat,
        {
            "ticket_id": e.ticket_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "score": e.score,
            "submitted_at": at,
        },
    )
    await add_entry(
        uow,
        event,
        _ticket_entry(
            e,
            contact_id,
            at,
            "csat.submitted",
            f"Rated the service {e.score}/5",
            direction="inbound",
        ),
    )


# --- the ERP ----------------------------------------------------------------------------------


def _erp_entry(
    contact_id: str,
    company_id: str | None,
    at: datetime,
    type_: str,
    entity: str,
    id_: str,
    summary: str,
) -> Entry:
    return Entry(
        occurred_at=at,
        type=type_,
        contact_id=contact_id,
        company_id=company_id,
        source_service="erp",
        source_entity=entity,
        source_id=id_,
        summary=summary,
    )


@on(erp.OrderPlaced)
async def order_placed(uow: UnitOfWork, event: InboundEvent, e: erp.OrderPlaced) -> None:
    contact_id = await resolve(uow, e.contact_id)
    at = moment(e.placed_at)
    await upsert(
        uow,
        Order,
        {
            "order_id": e.order_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "company_id": e.company_id,
            "opportunity_id": e.opportunity_id,
            "placed_at": at,
            "total": e.total,
            "currency": e.currency,
            "skus": sorted({line.sku[:100] for line in e.lines}),
        },
        update_cols=[
            "contact_id",
            "company_id",
            "opportunity_id",
            "placed_at",
            "total",
            "currency",
            "skus",
        ],
    )
    await request_recompute(uow)
    text = f"Order placed {money(e.total, e.currency)}"
    await add_entry(
        uow,
        event,
        _erp_entry(contact_id, e.company_id, at, "order.placed", "order", e.order_id, text),
    )


@on(erp.OrderCancelled)
async def order_cancelled(uow: UnitOfWork, event: InboundEvent, e: erp.OrderCancelled) -> None:
    contact_id = await resolve(uow, e.contact_id)
    at = moment(e.cancelled_at)
    await upsert(
        uow,
        Order,
        {
            "order_id": e.order_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "company_id": e.company_id,
            "cancelled_at": at,
        },
        update_cols=["cancelled_at"],
    )
    await request_recompute(uow)
    await add_entry(
        uow,
        event,
        _erp_entry(
            contact_id, e.company_id, at, "order.cancelled", "order", e.order_id, "Order cancelled"
        ),
    )


@on(erp.InvoicePaid)
async def invoice_paid(uow: UnitOfWork, event: InboundEvent, e: erp.InvoicePaid) -> None:
    contact_id = await resolve(uow, e.contact_id)
    at = moment(e.paid_at)
    await upsert(
        uow,
        Invoice,
        {
            "invoice_id": e.invoice_id,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "order_id": e.order_id,
            "paid_at": at,
            "amount": e.amount,
            "currency": e.currency,
        },
    )
    text = f"Invoice paid {money(e.amount, e.currency)}"
    await add_entry(
        uow,
        event,
        _erp_entry(contact_id, e.company_id, at, "invoice.paid", "invoice", e.invoice_id, text),
    )


async def _contract(
    uow: UnitOfWork, event: InboundEvent, e: erp._ContractEvent, status: str, summary: str
) -> str:
    contact_id = await resolve(uow, e.contact_id)
    values: dict[str, object] = {
        "contract_id": e.contract_id,
        "contact_id": contact_id,
        "origin_contact_id": e.contact_id,
        "status": status,
    }
    cols = ["contact_id", "status"]
    for name in ("starts_on", "ends_on"):
        if getattr(e, name) is not None:
            values[name] = getattr(e, name)
            cols.append(name)
    await upsert(uow, Contract, values, update_cols=cols)
    at = event.time
    await add_entry(
        uow,
        event,
        _erp_entry(
            contact_id,
            e.company_id,
            at,
            event.type.removeprefix("erp."),
            "contract",
            e.contract_id,
            summary,
        ),
    )
    return contact_id


@on(erp.ContractStarted)
async def contract_started(uow: UnitOfWork, event: InboundEvent, e: erp.ContractStarted) -> None:
    await _contract(uow, event, e, "active", "Contract started")


@on(erp.ContractRenewed)
async def contract_renewed(uow: UnitOfWork, event: InboundEvent, e: erp.ContractRenewed) -> None:
    contact_id = await _contract(uow, event, e, "active", "Contract renewed")
    # The term that ended is the one the renewal follows: it ended on the new term's start.
    ended = e.starts_on or event.time.date()
    await upsert(
        uow,
        ContractEnd,
        {
            "contract_id": e.contract_id,
            "end_date": ended,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "renewed": True,
        },
    )


@on(erp.ContractEnded)
async def contract_ended(uow: UnitOfWork, event: InboundEvent, e: erp.ContractEnded) -> None:
    contact_id = await _contract(
        uow, event, e, "ended", "Contract ended" + (" (renewed)" if e.renewed else "")
    )
    await upsert(
        uow,
        ContractEnd,
        {
            "contract_id": e.contract_id,
            "end_date": e.ended_on,
            "contact_id": contact_id,
            "origin_contact_id": e.contact_id,
            "renewed": e.renewed,
        },
    )


# Buffered rows are written explicitly, whatever way the unit of work commits. A write costs
# a few round trips per batch whatever its size: larger batches ingest faster (see bench/).
SUBSCRIPTION = Subscription(handlers=HANDLERS, before_commit=write_buffered, max_records=2000)
