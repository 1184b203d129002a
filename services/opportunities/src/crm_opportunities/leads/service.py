"""Leads: intake (API and public forms), duplicate flag, routing, statuses and conversion."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from crm_opportunities.database import insert_row
from crm_opportunities.deals.schemas import OpportunityCreate
from crm_opportunities.deals.service import check_owner, create_opportunity
from crm_opportunities.leads.contacts_client import ContactRefs
from crm_opportunities.leads.models import (
    FormHit,
    Lead,
    LeadAssignment,
    LeadForm,
    RoutingRule,
)
from crm_opportunities.leads.routing import Assignment, record_assignment, route
from crm_opportunities.leads.schemas import (
    ConvertLead,
    FormCreate,
    FormSubmission,
    LeadContactFields,
    LeadCreate,
    LeadFilters,
    LeadUpdate,
    RuleCreate,
)
from crm_opportunities.pipelines.service import get_pipeline
from crm_opportunities.teams.service import Visibility, get_team, team_of
from crm_shared.concurrency import check_version
from crm_shared.errors import Conflict, NotFound, RateLimited, ValidationFailed
from crm_shared.events.opportunities import (
    Attribution,
    LeadConverted,
    LeadCreated,
    LeadDisqualified,
    LeadUpdated,
)
from crm_shared.ids import uuid7
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

CONTACT_FIELDS = tuple(LeadContactFields.model_fields)
TRANSITIONS = {
    "new": {"working", "qualified", "disqualified"},
    "working": {"qualified", "disqualified"},
    "qualified": {"working", "disqualified"},
    "disqualified": {"working"},
}
RATE_WINDOW = timedelta(hours=1)


# --- intake ------------------------------------------------------------------------------


async def create_lead(uow: UnitOfWork, vis: Visibility | None, data: LeadCreate) -> Lead:
    """From the API. An explicit owner is a manual assignment; otherwise the rules route it,
    and a lead nobody got stays with its creator when the creator is a salesperson."""
    if data.owner_id is not None and vis is not None:
        check_owner(vis, data.owner_id)
    lead = await _new_lead(
        uow, data, source=data.source, campaign_id=data.campaign_id, form_id=None
    )
    assignment: Assignment | None
    if data.owner_id is not None:
        team_id = await team_of(uow, data.owner_id)
        assignment = Assignment(data.owner_id, team_id, None, "manual")
    else:
        assignment = await route(uow, lead)
        if assignment is None and vis is not None and not vis.everything:
            team_id = await team_of(uow, vis.user_id)
            assignment = Assignment(vis.user_id, team_id, None, "creator")
    await _take_in(uow, lead, assignment)
    return lead


async def submit_form(uow: UnitOfWork, key: str, data: FormSubmission, address: str) -> Lead:
    """A public web-to-lead submission: honeypot, per form and address rate limit, routing."""
    form = await uow.session.scalar(
        select(LeadForm).where(LeadForm.key == key, LeadForm.active.is_(True))
    )
    if form is None:
        raise NotFound("No such form.")
    if data.website:
        raise ValidationFailed(
            "The submission was rejected as automated.",
            errors=[
                {
                    "pointer": "/website",
                    "in": "body",
                    "code": "honeypot",
                    "detail": "this field must be left empty",
                }
            ],
        )
    address_hash = hashlib.sha256(f"{uow.tenant_id}:{address}".encode()).hexdigest()
    # Serialise submissions of one address to one form, then count its recent ones.
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{form.id}:{address_hash}"}
    )
    since = datetime.now(UTC) - RATE_WINDOW
    recent = await uow.session.scalar(
        select(func.count()).where(
            FormHit.form_id == form.id, FormHit.address_hash == address_hash, FormHit.at > since
        )
    )
    if (recent or 0) >= form.rate_limit_per_hour:
        raise RateLimited(
            f"This form accepts {form.rate_limit_per_hour} submissions per hour from one "
            "address; try again later.",
            headers={"Retry-After": str(int(RATE_WINDOW.total_seconds()))},
        )
    uow.session.add(FormHit(tenant_id=uow.tenant_id, form_id=form.id, address_hash=address_hash))
    fields = data.model_dump(exclude={"website"})
    lead = await _new_lead(
        uow,
        LeadContactFields(**fields),
        source=form.source,
        campaign_id=form.campaign_id,
        form_id=form.id,
    )
    await _take_in(uow, lead, await route(uow, lead))
    return lead


# Both duplicate checks in one round trip: an open lead with the email, else a known person.
DUPLICATE_OF = """
    SELECT (SELECT id FROM leads WHERE email = $1 AND status IN ('new', 'working', 'qualified')
              AND converted_at IS NULL AND id <> $2 ORDER BY id LIMIT 1) AS lead_id,
           (SELECT contact_id FROM contact_emails WHERE email = $1 LIMIT 1) AS contact_id
"""


async def _new_lead(
    uow: UnitOfWork,
    data: LeadContactFields,
    *,
    source: str,
    campaign_id: str | None,
    form_id: uuid.UUID | None,
) -> Lead:
    """The lead, flagged when it looks like a duplicate; not stored yet (see _take_in)."""
    now = datetime.now(UTC)
    lead = Lead(
        id=uuid7(),
        tenant_id=uow.tenant_id,
        source=source,
        campaign_id=campaign_id,
        form_id=form_id,
        status="new",
        version=1,
        created_at=now,
        updated_at=now,
        **{name: getattr(data, name) for name in CONTACT_FIELDS},
    )
    await _flag_duplicate(uow, lead)
    return lead


async def _flag_duplicate(uow: UnitOfWork, lead: Lead) -> None:
    lead.duplicate_of_lead_id = lead.duplicate_of_contact_id = None
    if lead.email:
        found = await (await uow.driver()).fetchrow(DUPLICATE_OF, lead.email, lead.id)
        lead.duplicate_of_lead_id = found["lead_id"]
        if lead.duplicate_of_lead_id is None:
            lead.duplicate_of_contact_id = found["contact_id"]


async def _take_in(uow: UnitOfWork, lead: Lead, assignment: Assignment | None) -> None:
    """Store the new lead once, with its owner when it has one, and tell of both."""
    if assignment is not None:
        lead.owner_id, lead.team_id = assignment.owner_id, assignment.team_id
    await insert_row(uow, lead)
    uow.publish(LeadCreated(**_details(uow, lead)))
    if assignment is not None:
        await record_assignment(uow, lead, assignment)


def _details(uow: UnitOfWork, lead: Lead) -> dict[str, Any]:
    """What a lead's created and updated events say about it."""
    duplicate = lead.duplicate_of_lead_id or lead.duplicate_of_contact_id
    return {
        "tenant_id": uow.tenant_id,
        "lead_id": str(lead.id),
        "email": lead.email,
        "company_name": lead.company_name,
        "country": lead.country,
        "attribution": _attribution(lead),
        "possible_duplicate_of": str(duplicate) if duplicate else None,
    }


def _attribution(lead: Lead) -> Attribution:
    return Attribution(
        source=lead.source,
        campaign_id=lead.campaign_id,
        utm_source=lead.utm_source,
        utm_medium=lead.utm_medium,
        utm_campaign=lead.utm_campaign,
        utm_term=lead.utm_term,
        utm_content=lead.utm_content,
    )


# --- reading and working leads -------------------------------------------------------------


async def get_lead(
    uow: UnitOfWork, vis: Visibility, lead_id: uuid.UUID, *, for_update: bool = False
) -> Lead:
    query = select(Lead).where(
        Lead.id == lead_id, Lead.deleted_at.is_(None), vis.clause(Lead.owner_id, Lead.team_id)
    )
    lead = await uow.session.scalar(query.with_for_update() if for_update else query)
    if lead is None:
        raise NotFound(f"No lead {lead_id}.")
    return lead


async def list_leads(
    uow: UnitOfWork, vis: Visibility, f: LeadFilters, page: PageParams
) -> list[Lead]:
    query = select(Lead).where(Lead.deleted_at.is_(None), vis.clause(Lead.owner_id, Lead.team_id))
    for name in ("status", "owner_id", "team_id", "source"):
        value = getattr(f, name)
        if value is not None:
            query = query.where(getattr(Lead, name) == value)
    if f.possible_duplicate is not None:
        flagged = Lead.duplicate_of_lead_id.is_not(None) | Lead.duplicate_of_contact_id.is_not(None)
        query = query.where(flagged if f.possible_duplicate else ~flagged)
    if page.cursor:
        query = query.where(Lead.id > uuid.UUID(str(page.cursor[0])))
    return list((await uow.session.scalars(query.order_by(Lead.id).limit(page.limit + 1))).all())


async def change_status(
    uow: UnitOfWork, vis: Visibility, lead_id: uuid.UUID, status: str, reason: str | None = None
) -> Lead:
    lead = await get_lead(uow, vis, lead_id, for_update=True)
    if lead.converted_at is not None:
        raise Conflict("This lead was converted; its status is final.")
    if status not in TRANSITIONS[lead.status]:
        raise Conflict(f"A {lead.status} lead cannot become {status}.")
    lead.status = status
    lead.disqualify_reason = reason if status == "disqualified" else None
    lead.updated_at = datetime.now(UTC)
    if status == "disqualified":
        assert reason is not None
        uow.publish(LeadDisqualified(tenant_id=uow.tenant_id, lead_id=str(lead.id), reason=reason))
    await uow.session.flush()
    return lead


async def update_lead(
    uow: UnitOfWork,
    vis: Visibility,
    lead_id: uuid.UUID,
    data: LeadUpdate,
    *,
    expected_version: int,
) -> Lead:
    lead = await get_lead(uow, vis, lead_id, for_update=True)
    check_version(lead.version, expected_version)
    if lead.converted_at is not None:
        raise Conflict("This lead was converted; edit the person in contacts instead.")
    if lead.erased_at is not None:
        raise Conflict("This lead's person was erased; it cannot be edited.")
    if "source" in data.model_fields_set and data.source is None:
        raise _invalid("/source", "cannot be null")
    changed = sorted(
        name for name in data.model_fields_set if getattr(data, name) != getattr(lead, name)
    )
    for name in changed:
        setattr(lead, name, getattr(data, name))
    if not (lead.email or lead.phone or lead.first_name or lead.last_name):
        raise _invalid("", "a lead needs an email, a phone or a name")
    if not changed:
        return lead
    if "email" in changed:
        await _flag_duplicate(uow, lead)
    lead.updated_at = datetime.now(UTC)
    await uow.session.flush()
    uow.publish(LeadUpdated(**_details(uow, lead), changed=changed))
    return lead


def _invalid(pointer: str, detail: str) -> ValidationFailed:
    return ValidationFailed(
        "One or more fields are invalid.",
        errors=[{"pointer": pointer, "in": "body", "detail": detail}],
    )


async def reassign(uow: UnitOfWork, vis: Visibility, lead_id: uuid.UUID, owner_id: str) -> Lead:
    lead = await get_lead(uow, vis, lead_id, for_update=True)
    check_owner(vis, owner_id)
    if lead.converted_at is not None:
        raise Conflict("This lead was converted; reassign its opportunity instead.")
    team_id = await team_of(uow, owner_id)
    await record_assignment(uow, lead, Assignment(owner_id, team_id, None, "manual"))
    lead.updated_at = datetime.now(UTC)
    await uow.session.flush()
    return lead


async def assignments(uow: UnitOfWork, vis: Visibility, lead_id: uuid.UUID) -> list[LeadAssignment]:
    await get_lead(uow, vis, lead_id)
    query = (
        select(LeadAssignment)
        .where(LeadAssignment.lead_id == lead_id)
        .order_by(LeadAssignment.assigned_at, LeadAssignment.id)
    )
    return list((await uow.session.scalars(query)).all())


# --- conversion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionPlan:
    lead_id: uuid.UUID
    done: bool
    person: dict[str, Any] | None
    company: dict[str, Any] | None


async def plan_conversion(
    uow: UnitOfWork, vis: Visibility, lead_id: uuid.UUID, data: ConvertLead
) -> ConversionPlan:
    """Everything checkable before calling contacts, so a doomed conversion creates nothing."""
    lead = await get_lead(uow, vis, lead_id)
    if lead.converted_at is not None:
        return ConversionPlan(lead.id, True, None, None)
    if lead.erased_at is not None:
        raise Conflict("This lead's person was erased; it cannot be converted.")
    if lead.status == "disqualified":
        raise Conflict("A disqualified lead cannot be converted; reopen it first.")
    pipeline = await get_pipeline(uow, data.pipeline_id)
    if data.stage_id is not None and data.stage_id not in {s.id for s in pipeline.stages}:
        raise ValidationFailed(
            "One or more fields are invalid.",
            errors=[{"pointer": "/stage_id", "in": "body", "detail": "not a stage of pipeline"}],
        )
    check_owner(vis, lead.owner_id or vis.user_id)
    person = None
    if data.contact_id is None:
        person = {
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "emails": [{"email": lead.email}] if lead.email else [],
            "phones": [{"number": lead.phone}] if lead.phone else [],
            "source": f"lead:{lead.source}"[:100] if lead.source else "lead",
            "external_id": f"lead:{lead.id}",
            "lifecycle_stage": "prospect",
        }
        if lead.owner_id:
            person["owner_id"] = lead.owner_id
        if lead.country:
            person["addresses"] = [{"kind": "work", "country": lead.country}]
        person = {k: v for k, v in person.items() if v is not None}
    company: dict[str, Any] | None = None
    if data.company_id is None and lead.company_name:
        company = {"name": lead.company_name}
        if lead.country:
            company["country"] = lead.country
        if lead.industry:
            company["industry"] = lead.industry
        if lead.company_size is not None:
            company["employee_count"] = lead.company_size
    return ConversionPlan(lead.id, False, person, company)


async def complete_conversion(
    uow: UnitOfWork, vis: Visibility, lead_id: uuid.UUID, data: ConvertLead, refs: ContactRefs
) -> Lead:
    """The local half, in one transaction: the deal, the lead's links, the events."""
    lead = await get_lead(uow, vis, lead_id, for_update=True)
    if lead.converted_at is not None:
        return lead  # a concurrent attempt finished first (with the same person)
    name = (
        data.opportunity_name
        or lead.company_name
        or " ".join(p for p in (lead.first_name, lead.last_name) if p)
        or f"Lead {lead.id}"
    )
    opp = await create_opportunity(
        uow,
        vis,
        OpportunityCreate(
            name=name[:200],
            person_id=refs.contact_id,
            company_id=refs.company_id,
            owner_id=lead.owner_id or vis.user_id,
            pipeline_id=data.pipeline_id,
            stage_id=data.stage_id,
            amount=data.amount,
            currency=data.currency,
            source_campaign_id=lead.campaign_id,
        ),
        lead_id=lead.id,
    )
    now = datetime.now(UTC)
    lead.status = "qualified"
    lead.contact_id, lead.company_id, lead.opportunity_id = refs.contact_id, refs.company_id, opp.id
    lead.converted_at = now
    lead.updated_at = now
    if lead.owner_id is None:
        lead.owner_id = vis.user_id
    uow.publish(
        LeadConverted(
            tenant_id=uow.tenant_id,
            lead_id=str(lead.id),
            contact_id=str(refs.contact_id),
            company_id=str(refs.company_id) if refs.company_id else None,
            opportunity_id=str(opp.id),
        )
    )
    await uow.session.flush()
    return lead


# --- routing rules and forms ---------------------------------------------------------------


async def create_rule(uow: UnitOfWork, data: RuleCreate) -> RoutingRule:
    await get_team(uow, data.team_id)
    rule = RoutingRule(
        tenant_id=uow.tenant_id,
        name=data.name,
        position=data.position,
        conditions=data.conditions.model_dump(exclude_none=True),
        team_id=data.team_id,
        active=data.active,
    )
    uow.session.add(rule)
    await uow.session.flush()
    return rule


async def list_rules(uow: UnitOfWork) -> list[RoutingRule]:
    query = select(RoutingRule).order_by(RoutingRule.position, RoutingRule.created_at)
    return list((await uow.session.scalars(query)).all())


async def delete_rule(uow: UnitOfWork, rule_id: uuid.UUID) -> None:
    rule = await uow.session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"No routing rule {rule_id}.")
    await uow.session.delete(rule)
    await uow.session.flush()


async def create_form(uow: UnitOfWork, data: FormCreate) -> LeadForm:
    form = LeadForm(
        tenant_id=uow.tenant_id,
        key=secrets.token_urlsafe(24),
        name=data.name,
        source=data.source,
        campaign_id=data.campaign_id,
        rate_limit_per_hour=data.rate_limit_per_hour,
        active=True,
    )
    uow.session.add(form)
    await uow.session.flush()
    return form


async def list_forms(uow: UnitOfWork) -> list[LeadForm]:
    return list((await uow.session.scalars(select(LeadForm).order_by(LeadForm.created_at))).all())
