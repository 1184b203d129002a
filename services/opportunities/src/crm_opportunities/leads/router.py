from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_opportunities.leads import service
from crm_opportunities.leads.contacts_client import ContactsClient
from crm_opportunities.leads.schemas import (
    Assign,
    AssignmentRead,
    ConvertLead,
    Disqualify,
    FormCreate,
    FormRead,
    FormSubmission,
    LeadCreate,
    LeadFilters,
    LeadRead,
    LeadStatusChange,
    LeadUpdate,
    RuleCreate,
    RuleRead,
    SubmissionAccepted,
)
from crm_opportunities.permissions import Admin, Marketer, Reader, Writer
from crm_opportunities.teams.service import visibility
from crm_shared.auth import TENANT_PATTERN
from crm_shared.concurrency import if_match_version, set_etag
from crm_shared.errors import NotFound
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.uow import UnitOfWork
from crm_shared.web import UoW

router = APIRouter(tags=["leads"])
LEAD_EXAMPLE = {
    "first_name": "Jan",
    "last_name": "Kowalski",
    "email": "jan@acme.example",
    "company_name": "Acme",
    "country": "PL",
    "source": "webinar",
    "utm_source": "newsletter",
}


@router.post("/v1/leads", status_code=201, response_model=LeadRead, summary="Take in a lead")
async def create_lead(
    request: Request, body: LeadCreate, uow: UoW, principal: Writer
) -> JSONResponse:
    async with uow:
        vis = await visibility(uow, principal)

        async def work() -> tuple[BaseModel, dict[str, str]]:
            lead = LeadRead.model_validate(await service.create_lead(uow, vis, body))
            return lead, {"ETag": f'"{lead.version}"', "Location": f"/v1/leads/{lead.id}"}

        return await idempotent(uow, request, work)


@router.get("/v1/leads", response_model=Page[LeadRead], summary="List the leads the caller sees")
async def list_leads(
    uow: UoW,
    principal: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[LeadFilters, Query()],
) -> Page[LeadRead]:
    async with uow:
        vis = await visibility(uow, principal)
        rows = await service.list_leads(uow, vis, filters, page)
    return Page(
        items=[LeadRead.model_validate(x) for x in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda x: [str(x.id)]),
    )


@router.get("/v1/leads/{lead_id}", response_model=LeadRead, summary="Get a lead")
async def get_lead(lead_id: uuid.UUID, uow: UoW, principal: Reader, response: Response) -> LeadRead:
    async with uow:
        vis = await visibility(uow, principal)
        lead = LeadRead.model_validate(await service.get_lead(uow, vis, lead_id))
    set_etag(response, lead.version)
    return lead


@router.patch(
    "/v1/leads/{lead_id}",
    response_model=LeadRead,
    summary="Edit a lead's details and attribution (If-Match)",
)
async def update_lead(
    lead_id: uuid.UUID,
    body: LeadUpdate,
    request: Request,
    uow: UoW,
    principal: Writer,
    response: Response,
) -> LeadRead:
    expected = if_match_version(request)
    async with uow:
        vis = await visibility(uow, principal)
        lead = LeadRead.model_validate(
            await service.update_lead(uow, vis, lead_id, body, expected_version=expected)
        )
    set_etag(response, lead.version)
    return lead


@router.post(
    "/v1/leads/{lead_id}/status", response_model=LeadRead, summary="Move to working or qualified"
)
async def change_status(
    lead_id: uuid.UUID, body: LeadStatusChange, uow: UoW, principal: Writer
) -> LeadRead:
    async with uow:
        vis = await visibility(uow, principal)
        return LeadRead.model_validate(await service.change_status(uow, vis, lead_id, body.status))


@router.post(
    "/v1/leads/{lead_id}/disqualify", response_model=LeadRead, summary="Disqualify, with a reason"
)
async def disqualify(lead_id: uuid.UUID, body: Disqualify, uow: UoW, principal: Writer) -> LeadRead:
    async with uow:
        vis = await visibility(uow, principal)
        return LeadRead.model_validate(
            await service.change_status(uow, vis, lead_id, "disqualified", body.reason)
        )


@router.post("/v1/leads/{lead_id}/assign", response_model=LeadRead, summary="Reassign a lead")
async def assign(lead_id: uuid.UUID, body: Assign, uow: UoW, principal: Writer) -> LeadRead:
    async with uow:
        vis = await visibility(uow, principal)
        return LeadRead.model_validate(await service.reassign(uow, vis, lead_id, body.owner_id))


@router.get(
    "/v1/leads/{lead_id}/assignments",
    response_model=list[AssignmentRead],
    summary="Who got the lead, when and why",
)
async def lead_assignments(lead_id: uuid.UUID, uow: UoW, principal: Reader) -> list[AssignmentRead]:
    async with uow:
        vis = await visibility(uow, principal)
        return [
            AssignmentRead.model_validate(a) for a in await service.assignments(uow, vis, lead_id)
        ]


@router.post(
    "/v1/leads/{lead_id}/convert",
    response_model=LeadRead,
    summary="Convert: person and company in contacts, and a deal (safe to retry)",
)
async def convert_lead(
    lead_id: uuid.UUID, body: ConvertLead, request: Request, uow: UoW, principal: Writer
) -> LeadRead:
    async with uow:
        vis = await visibility(uow, principal)
        plan = await service.plan_conversion(uow, vis, lead_id, body)
        if plan.done:
            return LeadRead.model_validate(await service.get_lead(uow, vis, lead_id))
    contacts: ContactsClient = request.app.state.contacts
    refs = await contacts.ensure(
        authorization=request.headers["authorization"],
        lead_id=lead_id,
        person=plan.person,
        contact_id=body.contact_id,
        company=plan.company,
        company_id=body.company_id,
    )
    async with uow:
        vis = await visibility(uow, principal)
        return LeadRead.model_validate(
            await service.complete_conversion(uow, vis, lead_id, body, refs)
        )


# --- routing rules -------------------------------------------------------------------------


@router.post(
    "/v1/routing-rules",
    status_code=201,
    response_model=RuleRead,
    tags=["routing"],
    summary="Add a routing rule (conditions -> team)",
)
async def create_rule(body: RuleCreate, uow: UoW, _: Admin) -> RuleRead:
    async with uow:
        return RuleRead.model_validate(await service.create_rule(uow, body))


@router.get(
    "/v1/routing-rules", response_model=list[RuleRead], tags=["routing"], summary="Rules in order"
)
async def list_rules(uow: UoW, _: Admin) -> list[RuleRead]:
    async with uow:
        return [RuleRead.model_validate(r) for r in await service.list_rules(uow)]


@router.delete(
    "/v1/routing-rules/{rule_id}", status_code=204, tags=["routing"], summary="Delete a rule"
)
async def delete_rule(rule_id: uuid.UUID, uow: UoW, _: Admin) -> Response:
    async with uow:
        await service.delete_rule(uow, rule_id)
    return Response(status_code=204)


# --- web-to-lead forms ---------------------------------------------------------------------


@router.post(
    "/v1/lead-forms",
    status_code=201,
    response_model=FormRead,
    tags=["forms"],
    summary="Create a web-to-lead form (its key goes into the public page)",
)
async def create_form(body: FormCreate, uow: UoW, _: Marketer) -> FormRead:
    async with uow:
        return FormRead.model_validate(await service.create_form(uow, body))


@router.get("/v1/lead-forms", response_model=list[FormRead], tags=["forms"], summary="Forms")
async def list_forms(uow: UoW, _: Marketer) -> list[FormRead]:
    async with uow:
        return [FormRead.model_validate(f) for f in await service.list_forms(uow)]


@router.post(
    "/v1/public/{tenant}/forms/{key}/submissions",
    status_code=201,
    response_model=SubmissionAccepted,
    tags=["forms"],
    summary="Public web-to-lead submission (no token; honeypot and rate limit)",
)
async def submit_form(
    tenant: Annotated[str, Path(max_length=64)],
    key: Annotated[str, Path(max_length=64)],
    body: FormSubmission,
    request: Request,
) -> SubmissionAccepted:
    if not TENANT_PATTERN.match(tenant):
        raise NotFound("No such form.")
    uow = UnitOfWork(
        request.app.state.sessionmaker,
        tenant_id=tenant,
        actor=None,
        source=request.app.state.settings.source,
        traceparent=request.headers.get("traceparent"),
    )
    address = request.client.host if request.client else "unknown"
    async with uow:
        lead = await service.submit_form(uow, key, body, address)
        return SubmissionAccepted(lead_id=lead.id)
