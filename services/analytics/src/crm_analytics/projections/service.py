"""Writing the read models: idempotent upserts and timeline inserts, one statement each.

Every write is safe to repeat: rows are keyed by the producer's ids, timeline entry ids are
derived from the event (or the touchpoint's source), and merges/conversions are recorded as
aliases so an event that arrives late for a merged person or a converted lead still lands on
the survivor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from crm_analytics.database import Base
from crm_analytics.projections.batch import (
    BatchState,
    buffer_upsert,
    forget_people,
    key_names,
    state,
    write_buffered,
)
from crm_analytics.projections.models import (
    CampaignTouch,
    Consent,
    ContactAlias,
    Contract,
    ContractEnd,
    Csat,
    CustomerScore,
    Invoice,
    Opportunity,
    Order,
    SurveyAnswer,
    Ticket,
    TimelineEntry,
)
from crm_shared.events.envelope import InboundEvent
from crm_shared.uow import UnitOfWork

# Written at commit, many rows per statement: no handler reads these back or UPDATEs them
# directly (merges and erasure write the buffer first).
BUFFERED: set[type[Base]] = {
    TimelineEntry,
    Order,
    Invoice,
    Contract,
    ContractEnd,
    Csat,
    SurveyAnswer,
    CampaignTouch,
}
ENTRY_NAMESPACE = uuid.UUID("5b0e7c1e-3d52-4f43-9a51-6f1d2a7f0c11")
# Tables whose rows follow a person: a merge moves them to the survivor, an unmerge moves the
# rows whose `origin_contact_id` (the id the producer named) is a restored person back.
PERSON_TABLES: list[type[Base]] = [
    TimelineEntry,
    ContractEnd,
    CampaignTouch,
    Order,
    Invoice,
    Contract,
    Opportunity,
    Ticket,
    Csat,
    SurveyAnswer,
]


PRELOAD_LIMIT = 10_000
# The tenant's (row-level security) aliases, then its erased people (a NULL survivor), each
# up to $1 rows: what a batch's handlers look up about people, in one round trip.
PEOPLE = (
    "SELECT * FROM (SELECT alias_id, contact_id FROM contact_aliases LIMIT $1) AS a "
    "UNION ALL SELECT * FROM "
    "(SELECT contact_id, NULL FROM contacts WHERE erased_at IS NOT NULL LIMIT $1) AS e"
)


async def resolve(uow: UnitOfWork, contact_id: str) -> str:
    """The surviving person for an id (itself, unless it was merged or is a converted lead).
    Aliases are kept one step deep. A tenant's aliases are loaded once per transaction when
    there are at most PRELOAD_LIMIT of them, otherwise looked up (and remembered) one by one;
    its erased people are loaded along (`is_erased` reads them)."""
    batch = state(uow)
    if uow.tenant_id not in batch.alias_maps:
        await load_people(uow, batch)
    complete = batch.alias_maps[uow.tenant_id]
    if complete is not None:
        return complete.get(contact_id, contact_id)
    key = (uow.tenant_id, contact_id)
    if key not in batch.aliases:
        batch.aliases[key] = await _resolve(uow, contact_id)
    return batch.aliases[key]


async def load_people(uow: UnitOfWork, batch: BatchState) -> None:
    """The tenant's aliases and erased people into the batch's state, in one round trip (a
    kind left out, None, when there are too many to hold)."""
    rows = await (await uow.driver()).fetch(PEOPLE, PRELOAD_LIMIT + 1)
    aliases = {alias: survivor for alias, survivor in rows if survivor is not None}
    erased = {person for person, survivor in rows if survivor is None}
    batch.alias_maps[uow.tenant_id] = aliases if len(aliases) <= PRELOAD_LIMIT else None
    batch.erased[uow.tenant_id] = erased if len(erased) <= PRELOAD_LIMIT else None


async def _resolve(uow: UnitOfWork, contact_id: str) -> str:
    seen = {contact_id}
    current = contact_id
    for _ in range(8):  # a chain of merges, bounded
        survivor = await uow.session.scalar(
            select(ContactAlias.contact_id).where(ContactAlias.alias_id == current)
        )
        if survivor is None or survivor in seen:
            return current
        seen.add(survivor)
        current = survivor
    return current


async def upsert(
    uow: UnitOfWork,
    model: type[Base],
    values: dict[str, Any],
    *,
    update_cols: list[str] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE the given columns (or nothing); buffered
    until commit for the tables no handler reads back."""
    values = {"tenant_id": uow.tenant_id} | values
    keys = key_names(cast(Table, model.__table__))
    cols = update_cols if update_cols is not None else [k for k in values if k not in keys]
    if "contact_id" in cols and "origin_contact_id" in values and "origin_contact_id" not in cols:
        cols = [*cols, "origin_contact_id"]
    if model in BUFFERED:
        buffer_upsert(uow, model, values, cols)
        return
    stmt = insert(model).values(**values)
    if cols:
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in cols}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    await uow.session.execute(stmt)


@dataclass(slots=True)  # not frozen: a frozen dataclass is slow to build, one per event
class Entry:
    occurred_at: datetime
    type: str
    source_service: str
    source_entity: str
    source_id: str
    contact_id: str | None = None
    lead_id: str | None = None
    company_id: str | None = None
    kind: str | None = None
    channel: str | None = None
    direction: str | None = None
    summary: str | None = None
    actor_id: str | None = None
    key: str | None = None  # what makes the entry unique; the event id unless told


async def add_entry(uow: UnitOfWork, event: InboundEvent, entry: Entry) -> None:
    entry_id = uuid.uuid5(ENTRY_NAMESPACE, f"{uow.tenant_id}|{entry.key or event.id}")
    origin = event.data.get("contact_id") if entry.contact_id and not entry.lead_id else None
    values = {
        "id": entry_id,
        "contact_id": entry.contact_id,
        "origin_contact_id": origin if isinstance(origin, str) else None,
        "lead_id": entry.lead_id,
        "company_id": entry.company_id,
        "occurred_at": entry.occurred_at,
        "type": entry.type,
        "kind": entry.kind,
        "channel": entry.channel,
        "direction": entry.direction,
        "source_service": entry.source_service[:32],
        "source_entity": entry.source_entity[:32],
        "source_id": entry.source_id[:64],
        "summary": entry.summary,
        "actor_id": entry.actor_id,
        "event_id": event.id,
    }
    values["tenant_id"] = uow.tenant_id
    buffer_upsert(uow, TimelineEntry, values, [])


async def link_alias(uow: UnitOfWork, alias_id: str, contact_id: str, kind: str) -> None:
    """Record that `alias_id` now means `contact_id` and move everything already filed under
    the alias (a merge: every person table; a lead: its timeline entries)."""
    if alias_id == contact_id:
        return
    await write_buffered(uow)
    forget_people(uow)
    await upsert(
        uow,
        ContactAlias,
        {"alias_id": alias_id, "contact_id": contact_id, "kind": kind},
        update_cols=["contact_id", "kind"],
    )
    # keep every alias one step from its survivor: what pointed at the alias now points here
    await uow.session.execute(
        update(ContactAlias)
        .where(ContactAlias.contact_id == alias_id)
        .values(contact_id=contact_id)
    )
    if kind == "lead":
        await uow.session.execute(
            update(TimelineEntry)
            .where(TimelineEntry.lead_id == alias_id)
            .values(contact_id=contact_id)
            .execution_options(synchronize_session=False)
        )
        return
    for model in PERSON_TABLES:
        table = cast(Table, model.__table__)
        await uow.session.execute(
            update(table).where(table.c.contact_id == alias_id).values(contact_id=contact_id)
        )
    # Scores and consents are per person: the survivor's are recomputed / kept.
    for keyed in (CustomerScore, Consent):
        table = cast(Table, keyed.__table__)
        await uow.session.execute(table.delete().where(table.c.contact_id == alias_id))


async def unlink_merged(uow: UnitOfWork, restored_id: str) -> None:
    """Undo a merge for one restored person: drop its alias and move back every row the
    producer filed under it."""
    await write_buffered(uow)
    forget_people(uow)
    await uow.session.execute(delete(ContactAlias).where(ContactAlias.alias_id == restored_id))
    for model in PERSON_TABLES:
        table = cast(Table, model.__table__)
        await uow.session.execute(
            update(table)
            .where(table.c.origin_contact_id == restored_id)
            .values(contact_id=restored_id)
        )
