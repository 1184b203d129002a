"""Tickets: creation (with policy and automatic assignment), status workflow, messages and
their SLA effects, intake threading, merging, problems, CSAT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from crm_shared.auth import Principal
from crm_shared.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from crm_shared.events.common import SourceRef
from crm_shared.events.tickets import (
    CsatSubmitted,
    TicketAssigned,
    TicketCreated,
    TicketInteractionLogged,
    TicketMerged,
    TicketMessageAdded,
    TicketSolved,
    TicketStatusChanged,
)
from crm_shared.ids import uuid7
from crm_shared.pagination import PageParams
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork
from crm_tickets.directory.models import Asset
from crm_tickets.directory.service import value_tier, warranty_until
from crm_tickets.permissions import sees_everything
from crm_tickets.queues import service as queues
from crm_tickets.sla import service as sla
from crm_tickets.sla.models import SlaTimer
from crm_tickets.tickets.models import Csat, Message, Ticket
from crm_tickets.tickets.schemas import (
    AssetInfo,
    SlaTargetRead,
    TicketCreate,
    TicketFilters,
    TicketRead,
    TicketUpdate,
)

TRANSITIONS: dict[str, set[str]] = {
    "new": {"open", "pending", "on_hold", "solved"},
    "open": {"pending", "on_hold", "solved"},
    "pending": {"open", "on_hold", "solved"},
    "on_hold": {"open", "pending", "solved"},
    "solved": {"open", "closed"},
    "closed": set(),
}
PAUSED = {"pending"}
REFERENCE = re.compile(r"\[#(\d+)\]")
# Ticket channels -> timeline channels (crm.interaction.logged's vocabulary)
TIMELINE_CHANNEL = {"email": "email", "phone": "phone", "chat": "chat", "web": "web"}
TIMELINE_CHANNEL |= {"social": "social", "api": "other"}


def reference(ticket: Ticket) -> str:
    return f"[#{ticket.number}]"


async def create_ticket(
    uow: UnitOfWork, data: TicketCreate, requester_id: uuid.UUID, *, at: datetime | None = None
) -> Ticket:
    at = at or sla.now()
    if data.queue_id is not None:
        await queues.get_queue(uow, data.queue_id)
    if data.asset_id is not None:
        await requester_asset(uow, data.asset_id, requester_id)
    tier = await value_tier(uow, requester_id)
    priority, policy = await sla.settle(uow, data.priority, tier)
    ticket = Ticket(
        tenant_id=uow.tenant_id,
        subject=data.subject,
        description=data.description,
        requester_id=requester_id,
        channel=data.channel,
        priority=priority,
        category=data.category,
        status="new",
        kind=data.kind,
        queue_id=data.queue_id,
        tags=list(data.tags),
        asset_id=data.asset_id,
        order_id=data.order_id,
        sla_policy_id=policy.id if policy else None,
        value_tier=tier,
        created_at=at,
        updated_at=at,
    )
    uow.session.add(ticket)
    await uow.session.flush()
    await uow.session.refresh(ticket, ["number"])
    uow.publish(
        TicketCreated(
            tenant_id=uow.tenant_id,
            contact_id=str(requester_id),
            ticket_id=str(ticket.id),
            subject=ticket.subject,
            channel=TIMELINE_CHANNEL[data.channel],
            priority=ticket.priority,
            queue_id=str(ticket.queue_id) if ticket.queue_id else None,
            sla_policy_id=str(policy.id) if policy else None,
        )
    )
    if policy is not None:
        await sla.start_timer(uow, ticket, policy, "first_response", at)
        await sla.start_timer(uow, ticket, policy, "resolution", at)
    assignee = data.assignee_id
    if assignee is None and ticket.queue_id is not None:
        assignee = await queues.pick_agent(uow, ticket.queue_id)
    if assignee is not None:
        _assign(uow, ticket, assignee)
    await uow.session.flush()
    return ticket


def _assign(uow: UnitOfWork, ticket: Ticket, agent_id: str) -> None:
    ticket.assignee_id = agent_id
    uow.publish(
        TicketAssigned(
            tenant_id=uow.tenant_id,
            contact_id=str(ticket.requester_id),
            ticket_id=str(ticket.id),
            assignee_id=agent_id,
            queue_id=str(ticket.queue_id) if ticket.queue_id else None,
        )
    )


async def reassign(
    uow: UnitOfWork,
    ticket: Ticket,
    *,
    assignee_id: str | None,
    queue_id: uuid.UUID | None,
) -> Ticket:
    _writable(ticket)
    if queue_id is not None and queue_id != ticket.queue_id:
        await queues.get_queue(uow, queue_id)
        ticket.queue_id = queue_id
        ticket.assignee_id = None
        if assignee_id is None:
            assignee_id = await queues.pick_agent(uow, queue_id)
    if assignee_id is not None and assignee_id != ticket.assignee_id:
        _assign(uow, ticket, assignee_id)
    ticket.updated_at = sla.now()
    await uow.session.flush()
    return ticket


def _visible(
    query: Select[Ticket], principal: Principal, queue_ids: list[uuid.UUID]
) -> Select[Ticket]:
    if sees_everything(principal):
        return query
    return query.where(or_(Ticket.queue_id.in_(queue_ids), Ticket.assignee_id == principal.sub))


async def get_ticket(
    uow: UnitOfWork,
    ticket_id: uuid.UUID,
    *,
    principal: Principal | None = None,
    for_update: bool = False,
) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id, Ticket.deleted_at.is_(None))
    if principal is not None:
        query = _visible(query, principal, await queues.queues_of(uow, principal.sub))
    if for_update:
        query = query.with_for_update()
    ticket = await uow.session.scalar(query)
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id}.")
    return ticket


async def list_tickets(
    uow: UnitOfWork, principal: Principal, filters: TicketFilters, page: PageParams
) -> list[Ticket]:
    query = _visible(
        select(Ticket).where(Ticket.deleted_at.is_(None)),
        principal,
        await queues.queues_of(uow, principal.sub),
    )
    if filters.status:
        query = query.where(Ticket.status == filters.status)
    if filters.queue_id:
        query = query.where(Ticket.queue_id == filters.queue_id)
    if filters.assignee_id:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    if filters.requester_id:
        query = query.where(Ticket.requester_id == filters.requester_id)
    if page.cursor:
        query = query.where(Ticket.id < uuid.UUID(str(page.cursor[0])))
    query = query.order_by(Ticket.id.desc()).limit(page.limit + 1)
    return list((await uow.session.scalars(query)).all())


def _writable(ticket: Ticket) -> None:
    if ticket.status == "closed":
        raise Conflict("This ticket is closed.", extra={"status": ticket.status})


async def update_ticket(uow: UnitOfWork, ticket: Ticket, data: TicketUpdate) -> Ticket:
    _writable(ticket)
    present = data.model_fields_set
    if "subject" in present and data.subject is not None:
        ticket.subject = data.subject
    if "priority" in present and data.priority is not None and data.priority != ticket.priority:
        ticket.priority = data.priority
        await sla.apply_policy(uow, ticket, sla.now())
    if "category" in present:
        ticket.category = data.category
    if "tags" in present:
        ticket.tags = list(data.tags or [])
    if "asset_id" in present:
        if data.asset_id is not None:
            await requester_asset(uow, data.asset_id, ticket.requester_id)
        ticket.asset_id = data.asset_id
    if "order_id" in present:
        ticket.order_id = data.order_id
    ticket.updated_at = sla.now()
    await uow.session.flush()
    return ticket


async def change_status(
    uow: UnitOfWork,
    ticket: Ticket,
    to: str,
    *,
    at: datetime | None = None,
    settings: ServiceSettings | None = None,
) -> Ticket:
    """Move the ticket through its workflow; `settings` signs the satisfaction link that
    `ticket.solved` carries."""
    at = at or sla.now()
    before = ticket.status
    if to == before:
        return ticket
    if to not in TRANSITIONS[before]:
        raise Conflict(
            f"A {before} ticket cannot become {to}.",
            extra={"status": before, "allowed": sorted(TRANSITIONS[before])},
        )
    ticket.status = to
    ticket.updated_at = at
    if to in PAUSED and before not in PAUSED:
        await sla.pause(uow, ticket.id, at)
    elif before in PAUSED and to not in PAUSED and to != "solved":
        await sla.resume(uow, ticket.id, at)
    uow.publish(
        TicketStatusChanged(
            tenant_id=uow.tenant_id,
            contact_id=str(ticket.requester_id),
            ticket_id=str(ticket.id),
            from_status=before,
            to_status=to,
            changed_at=at,
        )
    )
    if to == "solved":
        await _solved(uow, ticket, at, settings)
    elif to == "closed":
        ticket.closed_at = at
    elif before == "solved":
        await _reopened(uow, ticket, at)
    await uow.session.flush()
    return ticket


async def _reopened(uow: UnitOfWork, ticket: Ticket, at: datetime) -> None:
    """A solved ticket is open again: the SLA is chosen anew (the customer's tier may have
    changed while it was solved; the handler of segment changes only reviews open tickets),
    a new resolution clock runs, and the ticket goes back to whoever worked on it, if they
    still can take it, else through its queue's assignment rule."""
    ticket.solved_at = None
    ticket.value_tier = await value_tier(uow, ticket.requester_id)
    ticket.priority, policy = await sla.settle(uow, ticket.priority, ticket.value_tier)
    ticket.sla_policy_id = policy.id if policy else None
    await _restart(uow, ticket, "resolution", at)
    await _reassign_reopened(uow, ticket)


async def _reassign_reopened(uow: UnitOfWork, ticket: Ticket) -> None:
    if ticket.queue_id is None:
        if ticket.assignee_id is not None:
            _assign(uow, ticket, ticket.assignee_id)  # no queue to ask: the same agent
        return
    previous, ticket.assignee_id = ticket.assignee_id, None
    if previous is not None and await queues.has_room(
        uow, ticket.queue_id, previous, excluding=ticket.id
    ):
        _assign(uow, ticket, previous)
    elif (agent := await queues.pick_agent(uow, ticket.queue_id, excluding=ticket.id)) is not None:
        _assign(uow, ticket, agent)


async def _solved(
    uow: UnitOfWork, ticket: Ticket, at: datetime, settings: ServiceSettings | None
) -> None:
    ticket.solved_at = at
    ticket.awaiting_reply_since = None
    await sla.stop_all(uow, ticket.id, at)
    first = (
        (ticket.first_responded_at - ticket.created_at).total_seconds()
        if ticket.first_responded_at
        else None
    )
    uow.publish(
        TicketSolved(
            tenant_id=uow.tenant_id,
            contact_id=str(ticket.requester_id),
            ticket_id=str(ticket.id),
            solved_at=at,
            first_response_seconds=first,
            resolution_seconds=(at - ticket.created_at).total_seconds(),
            csat_token=csat_token(settings, ticket.tenant_id, ticket.id) if settings else None,
        )
    )
    if ticket.kind == "problem":
        incidents = (
            await uow.session.scalars(
                select(Ticket)
                .where(Ticket.problem_id == ticket.id, Ticket.status.notin_(("solved", "closed")))
                .order_by(Ticket.id)
                .with_for_update()
            )
        ).all()
        for incident in incidents:
            await add_message(
                uow,
                incident,
                body=f"The underlying problem {reference(ticket)} ({ticket.subject}) is solved.",
                public=True,
                direction="outbound",
                channel=incident.channel,
                author_id=uow.actor,
                at=at,
            )
            await change_status(uow, incident, "solved", at=at, settings=settings)


async def add_message(
    uow: UnitOfWork,
    ticket: Ticket,
    *,
    body: str,
    public: bool,
    direction: str,
    channel: str | None = None,
    author_id: str | None = None,
    external_id: str | None = None,
    at: datetime | None = None,
) -> Message:
    """A message and its effects: an agent's public reply meets the first/next response
    targets; a customer's message reopens a pending or solved ticket and starts the next
    response clock."""
    _writable(ticket)
    at = at or sla.now()
    channel = channel or ticket.channel
    if not public:
        direction = "internal"
    message = Message(
        id=uuid7(),
        tenant_id=uow.tenant_id,
        ticket_id=ticket.id,
        channel=channel,
        direction=direction,
        public=public,
        body=body,
        author_id=author_id,
        external_id=external_id,
        created_at=at,
    )
    await _insert_message(uow, message)
    if public and direction == "outbound":
        if ticket.first_responded_at is None:
            ticket.first_responded_at = at
            await sla.stop(uow, ticket.id, "first_response", at)
        await sla.stop(uow, ticket.id, "next_response", at)
        ticket.awaiting_reply_since = None
        if ticket.status == "new":
            await change_status(uow, ticket, "open", at=at)
    elif public and direction == "inbound":
        reopening = ticket.status == "solved"
        if ticket.status in ("pending", "solved", "on_hold"):
            await change_status(uow, ticket, "open", at=at)
        if ticket.awaiting_reply_since is None and (ticket.first_responded_at or reopening):
            ticket.awaiting_reply_since = at
            await _awaiting_reply(uow, ticket, at)
    await _touch(uow, ticket, at)
    timeline_channel = TIMELINE_CHANNEL.get(channel, "other")
    uow.publish(
        TicketMessageAdded(
            tenant_id=uow.tenant_id,
            contact_id=str(ticket.requester_id),
            ticket_id=str(ticket.id),
            message_id=str(message.id),
            channel=timeline_channel,
            direction=direction,
            public=public,
            occurred_at=at,
        )
    )
    uow.publish(
        TicketInteractionLogged(
            tenant_id=uow.tenant_id,
            contact_id=str(ticket.requester_id),
            interaction_id=str(message.id),
            channel=timeline_channel,
            direction=direction,
            kind="ticket_message" if channel != "phone" else "call",
            occurred_at=at,
            summary=f"{reference(ticket)} {ticket.subject}"[:200],
            actor_id=author_id,
            source=SourceRef(service="tickets", entity="ticket_message", id=str(message.id)),
        )
    )
    await uow.session.flush()
    return message


TOUCH = """
    UPDATE tickets SET updated_at = $2, version = version + 1
    WHERE id = $1 AND version = $3
    RETURNING version
"""


async def _touch(uow: UnitOfWork, ticket: Ticket, at: datetime) -> None:
    """A new message is a change of its ticket (a new version and ETag). When nothing else
    of the ticket changed, one fixed UPDATE on the driver does it without an ORM flush."""
    if uow.session.is_modified(ticket):
        ticket.updated_at = at  # flushed with the other changes, in one UPDATE
        return
    version = await (await uow.driver()).fetchval(TOUCH, ticket.id, at, ticket.version)
    if version is None:
        raise Conflict("The ticket changed meanwhile; retry.")
    set_committed_value(ticket, "updated_at", at)
    set_committed_value(ticket, "version", version)


INSERT_MESSAGE = """
    INSERT INTO ticket_messages (id, tenant_id, ticket_id, channel, direction, public, body,
        author_id, external_id, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


async def _insert_message(uow: UnitOfWork, m: Message) -> None:
    """A plain INSERT on the driver: messages are written once and never edited through the
    ORM, so tracking them in the session would only add bookkeeping to every intake."""
    await (await uow.driver()).execute(
        INSERT_MESSAGE,
        m.id,
        m.tenant_id,
        m.ticket_id,
        m.channel,
        m.direction,
        m.public,
        m.body,
        m.author_id,
        m.external_id,
        m.created_at,
    )


async def _awaiting_reply(uow: UnitOfWork, ticket: Ticket, at: datetime) -> None:
    """The customer wrote and waits: a next-response clock, or a new first-response clock
    when a ticket solved without any reply is reopened by the customer."""
    target = "next_response" if ticket.first_responded_at else "first_response"
    await _restart(uow, ticket, target, at)


async def _restart(uow: UnitOfWork, ticket: Ticket, target: str, at: datetime) -> None:
    """A new cycle of `target` under the ticket's policy."""
    if ticket.sla_policy_id is None:
        return
    policy = await sla.get_policy(uow, ticket.sla_policy_id)
    cycles = [t.cycle for t in await sla.timers_of(uow, ticket.id) if t.target == target]
    await sla.start_timer(uow, ticket, policy, target, at, cycle=max(cycles, default=0) + 1)


async def list_messages(uow: UnitOfWork, ticket_id: uuid.UUID) -> list[Message]:
    rows = await uow.session.scalars(
        select(Message)
        .where(Message.ticket_id == ticket_id)
        .order_by(Message.created_at, Message.id)
    )
    return list(rows.all())


# --- intake threading -------------------------------------------------------------------


async def thread_email(
    uow: UnitOfWork, subject: str, in_reply_to: str | None, references: list[str]
) -> Ticket | None:
    """The ticket an inbound email belongs to: by the [#number] in its subject, else by the
    message ids it replies to. A merged ticket leads to its survivor."""
    ticket: Ticket | None = None
    if match := REFERENCE.search(subject):
        ticket = await _lock_by_number(uow, int(match.group(1)))
    ids = [i for i in [in_reply_to, *references] if i]
    if ticket is None and ids:
        ticket_id = await uow.session.scalar(
            select(Message.ticket_id)
            .where(Message.external_id.in_(ids))
            .order_by(Message.created_at.desc())
            .limit(1)
        )
        if ticket_id is not None:
            ticket = await get_ticket(uow, ticket_id, for_update=True)
    return await _survivor(uow, ticket)


LOCK_BY_NUMBER = "SELECT * FROM tickets WHERE number = $1 FOR UPDATE"


async def _lock_by_number(uow: UnitOfWork, number: int) -> Ticket | None:
    """The ticket quoted in a subject, locked, read on the driver (every threaded email
    comes this way) and handed to the session as if the ORM had loaded it."""
    row = await (await uow.driver()).fetchrow(LOCK_BY_NUMBER, number)
    if row is None:
        return None
    key = uow.session.identity_key(Ticket, row["id"])
    if (known := uow.session.identity_map.get(key)) is not None:
        return cast(Ticket, known)
    ticket = Ticket(**{column.key: row[column.name] for column in Ticket.__table__.columns})
    make_transient_to_detached(ticket)  # its values count as loaded, not as changes
    uow.session.add(ticket)
    return ticket


async def thread_external(uow: UnitOfWork, external_id: str) -> Ticket | None:
    """An open ticket that already holds a message with this external id (a chat session)."""
    ticket_id = await uow.session.scalar(
        select(Message.ticket_id)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.external_id == external_id, Ticket.status.notin_(("closed",)))
        .order_by(Message.created_at.desc())
        .limit(1)
    )
    if ticket_id is None:
        return None
    return await _survivor(uow, await get_ticket(uow, ticket_id, for_update=True))


async def _survivor(uow: UnitOfWork, ticket: Ticket | None) -> Ticket | None:
    seen = 0
    while ticket is not None and ticket.merged_into_id is not None and seen < 10:
        ticket = await get_ticket(uow, ticket.merged_into_id, for_update=True)
        seen += 1
    if ticket is not None and ticket.status == "closed":
        return None  # a closed ticket is not reopened: the email opens a new one
    return ticket


SEEN = """
    SELECT m.id, m.ticket_id, t.number FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
    WHERE m.external_id = $1
    LIMIT 1
"""


@dataclass(frozen=True)
class SeenMessage:
    message_id: uuid.UUID
    ticket_id: uuid.UUID
    reference: str


async def message_seen(uow: UnitOfWork, external_id: str) -> SeenMessage | None:
    """The message already stored under this external id (a provider's redelivery), checked
    on every inbound email: on the driver, with the ticket's reference in the same trip."""
    row = await (await uow.driver()).fetchrow(SEEN, external_id)
    if row is None:
        return None
    return SeenMessage(row["id"], row["ticket_id"], f"[#{row['number']}]")


# --- merge, problems ----------------------------------------------------------------------


async def merge(uow: UnitOfWork, source: Ticket, target: Ticket) -> Ticket:
    if source.id == target.id:
        raise Unprocessable("A ticket cannot be merged into itself.")
    if target.status == "closed" or target.merged_into_id is not None:
        raise Conflict("The surviving ticket is closed.")
    _writable(source)
    at = sla.now()
    await uow.session.execute(
        update(Message).where(Message.ticket_id == source.id).values(ticket_id=target.id)
    )
    await add_message(
        uow,
        target,
        body=f"Merged from {reference(source)} {source.subject}",
        public=False,
        direction="internal",
        author_id=uow.actor,
        at=at,
    )
    await sla.stop_all(uow, source.id, at)
    before = source.status
    source.status, source.merged_into_id, source.closed_at = "closed", target.id, at
    source.updated_at = at
    uow.publish(
        TicketStatusChanged(
            tenant_id=uow.tenant_id,
            contact_id=str(source.requester_id),
            ticket_id=str(source.id),
            from_status=before,
            to_status="closed",
            changed_at=at,
        )
    )
    uow.publish(
        TicketMerged(
            tenant_id=uow.tenant_id,
            contact_id=str(source.requester_id),
            ticket_id=str(source.id),
            into_ticket_id=str(target.id),
            merged_at=at,
        )
    )
    await uow.session.flush()
    return target


async def link_incidents(uow: UnitOfWork, problem: Ticket, incident_ids: list[uuid.UUID]) -> Ticket:
    _writable(problem)
    if problem.problem_id is not None:
        raise Unprocessable("An incident of another problem cannot be a problem itself.")
    problem.kind = "problem"
    for incident_id in incident_ids:
        incident = await get_ticket(uow, incident_id, for_update=True)
        if incident.id == problem.id or incident.kind == "problem":
            raise Unprocessable(f"Ticket {incident_id} cannot be an incident of this problem.")
        incident.problem_id = problem.id
    problem.updated_at = sla.now()
    await uow.session.flush()
    return problem


# --- assets, CSAT ---------------------------------------------------------------------------


async def get_asset(uow: UnitOfWork, asset_id: uuid.UUID) -> Asset:
    asset = await uow.session.scalar(select(Asset).where(Asset.id == asset_id))
    if asset is None:
        raise NotFound(f"No asset {asset_id}.")
    return asset


async def requester_asset(uow: UnitOfWork, asset_id: uuid.UUID, requester_id: uuid.UUID) -> Asset:
    """The asset, if it is the requester's: another customer's purchase (and its warranty) has
    no place on this ticket."""
    asset = await get_asset(uow, asset_id)
    if asset.contact_id != requester_id:
        raise ValidationFailed(
            "The asset belongs to another customer.",
            errors=[{"pointer": "/asset_id", "in": "body", "detail": "not the requester's"}],
        )
    return asset


def asset_info(asset: Asset, today: date | None = None) -> AssetInfo:
    until = warranty_until(asset)
    return AssetInfo(
        id=asset.id,
        product=asset.product,
        serial_number=asset.serial_number,
        purchase_date=asset.purchase_date,
        warranty_until=until,
        under_warranty=until is not None and (today or datetime.now(UTC).date()) <= until,
    )


def csat_token(settings: ServiceSettings, tenant_id: str, ticket_id: uuid.UUID) -> str:
    """A signed link token: tenant and ticket, HMAC-SHA256 with the service secret."""
    payload = f"{tenant_id}|{ticket_id}".encode()
    secret = (settings.jwt_secret or "").encode()
    signature = hmac.new(secret, b"csat|" + payload, hashlib.sha256).digest()[:18]
    return (
        base64.urlsafe_b64encode(payload).decode().rstrip("=")
        + "."
        + base64.urlsafe_b64encode(signature).decode().rstrip("=")
    )


def read_csat_token(settings: ServiceSettings, token: str) -> tuple[str, uuid.UUID]:
    try:
        encoded, _ = token.split(".", 1)
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        tenant_id, ticket_id = payload.decode().split("|", 1)
        parsed = uuid.UUID(ticket_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotFound("This satisfaction link is not valid.") from exc
    if not hmac.compare_digest(csat_token(settings, tenant_id, parsed), token):
        raise NotFound("This satisfaction link is not valid.")
    return tenant_id, parsed


async def submit_csat(
    uow: UnitOfWork, ticket_id: uuid.UUID, score: int, comment: str | None
) -> Csat:
    ticket = await get_ticket(uow, ticket_id, for_update=True)
    if ticket.status not in ("solved", "closed") or ticket.merged_into_id is not None:
        raise Conflict("Satisfaction can be rated once the ticket is solved.")
    if await uow.session.scalar(select(Csat.id).where(Csat.ticket_id == ticket_id)):
        raise Conflict("This ticket was already rated.")
    at = sla.now()
    answer = Csat(
        tenant_id=uow.tenant_id, ticket_id=ticket_id, score=score, comment=comment, submitted_at=at
    )
    uow.session.add(answer)
    await uow.session.flush()
    uow.publish(
        CsatSubmitted(
            tenant_id=uow.tenant_id,
            contact_id=str(ticket.requester_id),
            ticket_id=str(ticket.id),
            score=score,
            submitted_at=at,
        )
    )
    return answer


# --- reading -------------------------------------------------------------------------------


def _timer_state(t: SlaTimer) -> str:
    if t.stopped_at is not None:
        return "met" if t.met else "missed"
    if t.breached_at is not None:
        return "breached"
    return "running" if t.running_since is not None else "paused"


async def to_read(uow: UnitOfWork, ticket: Ticket, settings: ServiceSettings) -> TicketRead:
    read = TicketRead.model_validate(
        {
            **{c: getattr(ticket, c) for c in TicketRead.model_fields if hasattr(ticket, c)},
            "reference": reference(ticket),
        }
    )
    read.sla = [
        SlaTargetRead(
            target=t.target,
            cycle=t.cycle,
            state=_timer_state(t),
            due_at=t.due_at,
            warn_at=t.warn_at,
            consumed_seconds=round(t.consumed_s, 3),
            budget_seconds=t.budget_s,
            warned=t.warned_at is not None,
            breached=t.breached_at is not None,
        )
        for t in await sla.timers_of(uow, ticket.id)
    ]
    if ticket.asset_id is not None:
        asset = await uow.session.get(Asset, ticket.asset_id)
        read.asset = asset_info(asset) if asset else None
    if ticket.status in ("solved", "closed") and ticket.merged_into_id is None:
        read.csat_token = csat_token(settings, ticket.tenant_id, ticket.id)
    return read


async def count_open(uow: UnitOfWork) -> int:
    return int(
        await uow.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status.in_(queues.ACTIVE))
        )
        or 0
    )
