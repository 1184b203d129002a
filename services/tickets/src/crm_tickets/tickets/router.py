from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_shared.concurrency import check_version, if_match_version, set_etag
from crm_shared.idempotency import idempotent
from crm_shared.pagination import Page, PageParams, next_cursor, page_params
from crm_shared.uow import UnitOfWork
from crm_shared.web import UoW
from crm_tickets.directory.service import ContactsClient, find_contact, remember_contact
from crm_tickets.permissions import Intake, Reader, Writer
from crm_tickets.tickets import service
from crm_tickets.tickets.models import Ticket
from crm_tickets.tickets.schemas import (
    Assignment,
    ChatIntake,
    CsatIn,
    EmailIntake,
    IntakeResult,
    MergeRequest,
    MessageCreate,
    MessageRead,
    PhoneIntake,
    ProblemLink,
    Requester,
    StatusChange,
    TicketCreate,
    TicketFilters,
    TicketRead,
    TicketUpdate,
)

Finder = Callable[[UnitOfWork], Awaitable[Ticket | None]]
router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
intake = APIRouter(prefix="/v1/intake", tags=["intake"])
csat = APIRouter(prefix="/v1/csat", tags=["csat"])

TICKET_EXAMPLE = {
    "subject": "Printer does not start",
    "description": "Since this morning the X200 shows error E42.",
    "requester": {"email": "ada@example.com", "name": "Ada Lovelace"},
    "channel": "email",
    "priority": "high",
    "category": "hardware",
    "tags": ["printer"],
}


async def resolve_requester(request: Request, uow: UnitOfWork, who: Requester) -> uuid.UUID:
    """A person id as given; else the person with this email or phone in the local contacts
    projection; else a new person created in contacts (and remembered here at once)."""
    if who.person_id is not None:
        return who.person_id
    async with uow:
        found = await find_contact(uow, email=who.email, phone=who.phone)
    if found is not None:
        return found
    client: ContactsClient = request.app.state.contacts
    person_id, emails, phones = await client.create_person(
        uow.tenant_id, email=who.email, phone=who.phone, name=who.name
    )
    async with uow:
        await remember_contact(uow, person_id, [e for e in emails if e], [p for p in phones if p])
    return person_id


async def _read(request: Request, uow: UnitOfWork, ticket_id: uuid.UUID) -> TicketRead:
    ticket = await service.get_ticket(uow, ticket_id)
    return await service.to_read(uow, ticket, request.app.state.settings)


def _headers(ticket: TicketRead) -> dict[str, str]:
    return {"ETag": f'"{ticket.version}"', "Location": f"/v1/tickets/{ticket.id}"}


@router.post(
    "",
    status_code=201,
    response_model=TicketRead,
    summary="Open a ticket (requester by person id, or email/phone matched or created)",
)
async def create_ticket(
    request: Request,
    uow: UoW,
    _: Writer,
    body: Annotated[TicketCreate, Body(openapi_examples={"ticket": {"value": TICKET_EXAMPLE}})],
) -> JSONResponse:
    requester_id = await resolve_requester(request, uow, body.requester)
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            ticket = await service.create_ticket(uow, body, requester_id)
            read = await service.to_read(uow, ticket, request.app.state.settings)
            return read, _headers(read)

        return await idempotent(uow, request, work)


@router.get("", response_model=Page[TicketRead], summary="Tickets the caller may see")
async def list_tickets(
    request: Request,
    uow: UoW,
    principal: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[TicketFilters, Query()],
) -> Page[TicketRead]:
    async with uow:
        rows = await service.list_tickets(uow, principal, filters, page)
        items = [
            await service.to_read(uow, t, request.app.state.settings) for t in rows[: page.limit]
        ]
    return Page(items=items, next_cursor=next_cursor(rows, page.limit, lambda t: [str(t.id)]))


@router.get("/{ticket_id}", response_model=TicketRead, summary="A ticket with its SLA state")
async def get_ticket(
    ticket_id: uuid.UUID, request: Request, uow: UoW, principal: Reader, response: Response
) -> TicketRead:
    async with uow:
        ticket = await service.get_ticket(uow, ticket_id, principal=principal)
        read = await service.to_read(uow, ticket, request.app.state.settings)
    set_etag(response, read.version)
    return read


@router.patch("/{ticket_id}", response_model=TicketRead, summary="Edit a ticket (If-Match)")
async def update_ticket(
    ticket_id: uuid.UUID,
    body: TicketUpdate,
    request: Request,
    uow: UoW,
    principal: Writer,
    response: Response,
) -> TicketRead:
    expected = if_match_version(request)
    async with uow:
        ticket = await service.get_ticket(uow, ticket_id, principal=principal, for_update=True)
        check_version(ticket.version, expected)
        await service.update_ticket(uow, ticket, body)
        read = await service.to_read(uow, ticket, request.app.state.settings)
    set_etag(response, read.version)
    return read


@router.post(
    "/{ticket_id}/status",
    response_model=TicketRead,
    summary="Move a ticket through its workflow (valid transitions only)",
    responses={409: {"description": "Transition not allowed from the current status"}},
)
async def change_status(
    ticket_id: uuid.UUID, body: StatusChange, request: Request, uow: UoW, principal: Writer
) -> TicketRead:
    async with uow:
        ticket = await service.get_ticket(uow, ticket_id, principal=principal, for_update=True)
        await service.change_status(uow, ticket, body.status, settings=request.app.state.settings)
        return await service.to_read(uow, ticket, request.app.state.settings)


@router.post("/{ticket_id}/assignment", response_model=TicketRead, summary="Reassign")
async def reassign(
    ticket_id: uuid.UUID, body: Assignment, request: Request, uow: UoW, principal: Writer
) -> TicketRead:
    async with uow:
        ticket = await service.get_ticket(uow, ticket_id, principal=principal, for_update=True)
        await service.reassign(uow, ticket, assignee_id=body.assignee_id, queue_id=body.queue_id)
        return await service.to_read(uow, ticket, request.app.state.settings)


@router.post(
    "/{ticket_id}/messages",
    status_code=201,
    response_model=MessageRead,
    summary="Add a public reply or an internal note",
)
async def add_message(
    ticket_id: uuid.UUID, body: MessageCreate, request: Request, uow: UoW, principal: Writer
) -> JSONResponse:
    async with uow:

        async def work() -> tuple[BaseModel, dict[str, str]]:
            ticket = await service.get_ticket(uow, ticket_id, principal=principal, for_update=True)
            message = await service.add_message(
                uow,
                ticket,
                body=body.body,
                public=body.public,
                direction=body.direction,
                channel=body.channel,
                author_id=principal.sub if body.direction == "outbound" else None,
            )
            return MessageRead.model_validate(message), {}

        return await idempotent(uow, request, work)


@router.get("/{ticket_id}/messages", response_model=list[MessageRead], summary="The conversation")
async def list_messages(ticket_id: uuid.UUID, uow: UoW, principal: Reader) -> list[MessageRead]:
    async with uow:
        await service.get_ticket(uow, ticket_id, principal=principal)
        return [MessageRead.model_validate(m) for m in await service.list_messages(uow, ticket_id)]


@router.post(
    "/{ticket_id}/merge",
    response_model=TicketRead,
    summary="Merge this duplicate into another ticket (returns the survivor)",
)
async def merge(
    ticket_id: uuid.UUID, body: MergeRequest, request: Request, uow: UoW, principal: Writer
) -> TicketRead:
    async with uow:
        source = await service.get_ticket(uow, ticket_id, principal=principal, for_update=True)
        target = await service.get_ticket(
            uow, body.into_ticket_id, principal=principal, for_update=True
        )
        await service.merge(uow, source, target)
        return await service.to_read(uow, target, request.app.state.settings)


@router.post(
    "/{ticket_id}/incidents",
    response_model=TicketRead,
    summary="Link incidents to this problem (solving it solves them)",
)
async def link_incidents(
    ticket_id: uuid.UUID, body: ProblemLink, request: Request, uow: UoW, principal: Writer
) -> TicketRead:
    async with uow:
        problem = await service.get_ticket(uow, ticket_id, principal=principal, for_update=True)
        await service.link_incidents(uow, problem, body.incident_ids)
        return await service.to_read(uow, problem, request.app.state.settings)


# --- intake ------------------------------------------------------------------------------


async def _append_or_open(
    request: Request,
    uow: UnitOfWork,
    *,
    find: Finder,
    who: Requester,
    subject: str,
    text: str,
    channel: str,
    direction: str,
    external_id: str | None,
    dedupe: bool = True,
) -> IntakeResult:
    """Shared tail of every intake: append to the threaded ticket, or open one."""
    requester_id: uuid.UUID | None = None
    for _attempt in range(2):
        async with uow:
            if dedupe and external_id and (seen := await service.message_seen(uow, external_id)):
                return IntakeResult(
                    ticket_id=seen.ticket_id,
                    reference=seen.reference,
                    message_id=seen.message_id,
                    created=False,
                )
            ticket = await find(uow)
            created = ticket is None
            if ticket is None and requester_id is not None:
                data = TicketCreate(
                    subject=subject[:300] or "(no subject)",
                    requester=Requester(person_id=requester_id),
                    channel=channel,
                )
                ticket = await service.create_ticket(uow, data, requester_id)
            if ticket is not None:
                message = await service.add_message(
                    uow,
                    ticket,
                    body=text,
                    public=True,
                    direction=direction,
                    channel=channel,
                    external_id=external_id,
                )
                return IntakeResult(
                    ticket_id=ticket.id,
                    reference=service.reference(ticket),
                    message_id=message.id,
                    created=created,
                )
        requester_id = await resolve_requester(request, uow, who)
    raise AssertionError("unreachable")


def _known(
    *, email: str | None = None, phone: str | None = None, name: str | None = None
) -> Requester:
    """The sender as a requester, from fields the intake body already validated (validating
    an email address again costs more than the rest of a threaded reply's Python work)."""
    return Requester.model_construct(email=email, phone=phone, name=name)


@intake.post(
    "/email",
    status_code=201,
    response_model=IntakeResult,
    summary="Inbound email webhook: threads by [#number] in the subject or by In-Reply-To / "
    "References, else opens a ticket",
)
async def intake_email(request: Request, body: EmailIntake, uow: UoW, _: Intake) -> IntakeResult:
    async def find(u: UnitOfWork) -> Ticket | None:
        return await service.thread_email(u, body.subject, body.in_reply_to, body.references)

    return await _append_or_open(
        request,
        uow,
        find=find,
        who=_known(email=body.from_address, name=body.from_name),
        subject=body.subject,
        text=body.text,
        channel="email",
        direction="inbound",
        external_id=body.message_id,
    )


@intake.post(
    "/chat",
    status_code=201,
    response_model=IntakeResult,
    summary="A chat message: appended to the session's open ticket, else opens one",
)
async def intake_chat(request: Request, body: ChatIntake, uow: UoW, _: Intake) -> IntakeResult:
    session_ref = f"chat:{body.session_id}"

    async def find(u: UnitOfWork) -> Ticket | None:
        return await service.thread_external(u, session_ref)

    return await _append_or_open(
        request,
        uow,
        find=find,
        who=_known(email=body.email, phone=body.phone, name=body.name),
        subject=f"Chat: {body.text[:80]}",
        text=body.text,
        channel="chat",
        direction="inbound",
        external_id=session_ref,
        dedupe=False,  # every message of a session carries the session's reference
    )


@intake.post(
    "/phone",
    status_code=201,
    response_model=IntakeResult,
    summary="A phone call log: appended to the given ticket, else opens one",
)
async def intake_phone(request: Request, body: PhoneIntake, uow: UoW, _: Intake) -> IntakeResult:
    async def find(u: UnitOfWork) -> Ticket | None:
        if body.ticket_id is None:
            return None
        return await service.get_ticket(u, body.ticket_id, for_update=True)

    minutes = f" ({body.duration_s // 60} min)" if body.duration_s is not None else ""
    return await _append_or_open(
        request,
        uow,
        find=find,
        who=_known(phone=body.phone, name=body.name),
        subject=body.subject or f"Phone call{minutes}",
        text=f"Call{minutes}: {body.summary}",
        channel="phone",
        direction=body.direction,
        external_id=None,
    )


# --- CSAT (no login: the signed link is the credential) -----------------------------------


@csat.post(
    "/{token}",
    status_code=201,
    summary="The customer's rating (1-5) from the signed link, once",
    responses={409: {"description": "Already rated, or not solved"}},
)
async def submit_csat(token: str, body: CsatIn, request: Request) -> dict[str, object]:
    settings = request.app.state.settings
    tenant_id, ticket_id = service.read_csat_token(settings, token)
    uow = UnitOfWork(
        request.app.state.sessionmaker, tenant_id=tenant_id, actor=None, source=settings.source
    )
    async with uow:
        answer = await service.submit_csat(uow, ticket_id, body.score, body.comment)
    return {"ticket_id": str(ticket_id), "score": answer.score}
