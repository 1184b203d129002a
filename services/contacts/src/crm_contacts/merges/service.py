"""Duplicate detection and reversible merges.

A merge soft-deletes the merged people, gives the survivor the chosen values, moves roles and
interactions to the survivor and copies consent entries onto the survivor's ledger (the
ledger is append-only). It stores the before state of everyone plus what moved, so an undo
within the retention window restores the merged people, moves their records back, voids the
copied consent entries and restores the survivor to its state before the merge.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, text, update

from crm_contacts.companies.models import Role
from crm_contacts.consents import service as consents
from crm_contacts.consents.models import ConsentEntry, ConsentVoid
from crm_contacts.events import contact_snapshot
from crm_contacts.interactions.models import Interaction
from crm_contacts.merges.models import Merge
from crm_contacts.merges.schemas import DuplicateCandidate, DuplicatePair, MergeCreate
from crm_contacts.people import service as people
from crm_contacts.people.models import Person
from crm_contacts.people.schemas import PersonFields, PersonUpdate
from crm_shared.errors import Conflict, NotFound, ValidationFailed
from crm_shared.events.catalog import (
    ConsentCorrected,
    ConsentGranted,
    ConsentWithdrawn,
    ContactMerged,
    ContactUpdated,
)
from crm_shared.events.contacts import ContactUnmerged
from crm_shared.ids import uuid7
from crm_shared.uow import UnitOfWork

UNDO_WINDOW = timedelta(days=30)
RESTORABLE = tuple(PersonFields.model_fields)
UNION_BY = {"emails": "email", "phones": "number"}
SCORES = {"same_email": 0.95, "same_phone": 0.85}

# --- duplicates ------------------------------------------------------------------------------

# Emails are stored lower-cased and unique per tenant, so "the same normalised email" means the
# same mailbox: `+tags` dropped, and dots dropped for Gmail.
CANDIDATES = """
WITH live AS (
    SELECT id, coalesce(first_name, '') || ' ' || coalesce(last_name, '') AS name
    FROM people WHERE deleted_at IS NULL AND erased_at IS NULL
),
mailbox AS (
    SELECT e.person_id,
           CASE WHEN split_part(e.email, '@', 2) IN ('gmail.com', 'googlemail.com')
                THEN replace(split_part(split_part(e.email, '@', 1), '+', 1), '.', '')
                     || '@gmail.com'
                ELSE split_part(split_part(e.email, '@', 1), '+', 1)
                     || '@' || split_part(e.email, '@', 2)
           END AS key
    FROM person_emails e JOIN live ON live.id = e.person_id
),
pairs AS (
    SELECT a.person_id AS a, b.person_id AS b, 'same_email' AS reason,
           CAST(:email_score AS float) AS score
    FROM mailbox a JOIN mailbox b ON a.key = b.key AND a.person_id <> b.person_id
    UNION ALL
    SELECT a.person_id, b.person_id, 'same_phone', CAST(:phone_score AS float)
    FROM person_phones a
    JOIN person_phones b ON a.number = b.number AND a.person_id <> b.person_id
    JOIN live la ON la.id = a.person_id JOIN live lb ON lb.id = b.person_id
    UNION ALL
    SELECT ra.person_id, rb.person_id, 'similar_name_same_company',
           CAST(0.9 * similarity(la.name, lb.name) AS float)
    FROM person_company_roles ra
    JOIN person_company_roles rb ON ra.company_id = rb.company_id AND ra.person_id <> rb.person_id
    JOIN live la ON la.id = ra.person_id JOIN live lb ON lb.id = rb.person_id
    WHERE ra.end_date IS NULL AND rb.end_date IS NULL
      AND similarity(la.name, lb.name) >= :min_similarity
)
SELECT a, b, reason, max(score) AS score FROM pairs WHERE {where} GROUP BY a, b, reason
"""
MIN_SIMILARITY = 0.45


def _combine(scores: list[float]) -> float:
    """Independent signals: the pair is a duplicate unless every signal is wrong."""
    return round(1 - math.prod(1 - s for s in scores), 4)


async def _pairs(
    uow: UnitOfWork, where: str, **params: Any
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, float]]:
    rows = await uow.session.execute(
        text(CANDIDATES.format(where=where)),
        {
            "email_score": SCORES["same_email"],
            "phone_score": SCORES["same_phone"],
            "min_similarity": MIN_SIMILARITY,
        }
        | params,
    )
    found: dict[tuple[uuid.UUID, uuid.UUID], dict[str, float]] = {}
    for row in rows:
        found.setdefault((row.a, row.b), {})[row.reason] = float(row.score)
    return found


async def duplicates_of(uow: UnitOfWork, person_id: uuid.UUID) -> list[DuplicateCandidate]:
    await people.get_person(uow, person_id)
    pairs = await _pairs(uow, "a = :person", person=person_id)
    candidates = [
        DuplicateCandidate(person_id=b, score=_combine(list(r.values())), reasons=sorted(r))
        for (_, b), r in pairs.items()
    ]
    return sorted(candidates, key=lambda c: (-c.score, c.person_id))


async def all_duplicates(uow: UnitOfWork, limit: int) -> list[DuplicatePair]:
    pairs = await _pairs(uow, "a < b")
    found = [
        DuplicatePair(person_ids=(a, b), score=_combine(list(r.values())), reasons=sorted(r))
        for (a, b), r in pairs.items()
    ]
    return sorted(found, key=lambda p: (-p.score, p.person_ids))[:limit]


# --- merge -----------------------------------------------------------------------------------


def _state(person: Person) -> dict[str, Any]:
    """The person's editable fields as JSON, in the shape PersonUpdate accepts."""
    read = people.to_read(person).model_dump(mode="json")
    return {name: read[name] for name in RESTORABLE}


def _update(values: dict[str, Any]) -> PersonUpdate:
    try:
        return PersonUpdate.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed(
            "The merged person would not be valid.",
            errors=[
                {"pointer": "/" + "/".join(str(p) for p in err["loc"]), "detail": err["msg"]}
                for err in exc.errors()
            ],
        ) from exc


def _merged_values(data: MergeCreate, states: dict[uuid.UUID, dict[str, Any]]) -> dict[str, Any]:
    order = [data.survivor_id, *data.merged_ids]
    survivor = states[data.survivor_id]
    values: dict[str, Any] = {}
    for name in RESTORABLE:
        if name in data.fields:
            values[name] = states[data.fields[name]][name]
        elif name in UNION_BY:
            key, items, seen = UNION_BY[name], [], set()
            for pid in order:
                for item in states[pid][name]:
                    if item[key] not in seen:
                        seen.add(item[key])
                        items.append(item | {"primary": item["primary"] and pid == order[0]})
            values[name] = items
        elif name == "tags":
            values[name] = list(dict.fromkeys(t for pid in order for t in states[pid]["tags"]))
        elif name == "attributes":
            merged: dict[str, Any] = {}
            for pid in reversed(order):
                merged |= states[pid]["attributes"]
            values[name] = merged
        else:
            values[name] = survivor[name]
    return values


async def _lock(
    uow: UnitOfWork, ids: list[uuid.UUID], *, include_deleted: bool = False
) -> dict[uuid.UUID, Person]:
    found = {}
    for pid in sorted(ids):  # one lock order: concurrent merges cannot deadlock
        person = await people.get_person(uow, pid, for_update=True, include_deleted=include_deleted)
        if person.erased_at is not None:
            raise Conflict(f"The person {pid} was erased.")
        found[pid] = person
    return found


async def merge(uow: UnitOfWork, data: MergeCreate) -> Merge:
    session = uow.session
    everyone = await _lock(uow, [data.survivor_id, *data.merged_ids])
    survivor = everyone[data.survivor_id]
    states = {pid: _state(p) for pid, p in everyone.items()}
    new_values = _update(_merged_values(data, states))
    merge_row = Merge(
        id=uuid7(),
        tenant_id=uow.tenant_id,
        survivor_id=data.survivor_id,
        merged_ids=list(data.merged_ids),
        choices={k: str(v) for k, v in data.fields.items()},
        actor=uow.actor,
        expires_at=datetime.now(UTC) + UNDO_WINDOW,
        undo={},
    )
    # Free the merged people's unique values (emails, external id) before the survivor takes them.
    now = datetime.now(UTC)
    for pid in data.merged_ids:
        person = everyone[pid]
        person.emails.clear()
        person.external_id = None
        person.deleted_at = now
        person.updated_at = now
    await session.flush()
    await people._ensure_unique(uow, new_values, exclude=survivor.id)
    changed = people._apply(survivor, new_values)
    changed |= await people._apply_contact_points(session, survivor, new_values, uow.tenant_id)
    moved_roles = await _move(uow, Role, data.merged_ids, data.survivor_id)
    moved_interactions = await _move(uow, Interaction, data.merged_ids, data.survivor_id)
    copies = await _copy_consents(uow, data.merged_ids, data.survivor_id, merge_row.id)
    survivor.updated_at = now  # the survivor's roles/consents changed even if no field did
    merge_row.undo = {
        "states": {str(pid): state for pid, state in states.items()},
        "roles": moved_roles,
        "interactions": moved_interactions,
        "consent_copies": copies,
    }
    session.add(merge_row)
    await session.flush()
    uow.publish(
        ContactMerged(
            tenant_id=uow.tenant_id,
            contact_id=str(survivor.id),
            merged_ids=[str(pid) for pid in data.merged_ids],
            merge_id=str(merge_row.id),
        )
    )
    uow.publish(
        ContactUpdated(
            tenant_id=uow.tenant_id,
            contact_id=str(survivor.id),
            contact=await contact_snapshot(session, survivor),
            changed=sorted(changed | {"merged"}),
        )
    )
    return merge_row


async def _move(
    uow: UnitOfWork,
    model: type[Role] | type[Interaction],
    sources: list[uuid.UUID],
    target: uuid.UUID,
) -> dict[str, str]:
    """Repoint `model` rows from `sources` to `target`; returns {row id: original person id}."""
    moved = await uow.session.execute(
        select(model.id, model.person_id).where(model.person_id.in_(sources)).with_for_update()
    )
    original = {str(row.id): str(row.person_id) for row in moved}
    if original:
        await uow.session.execute(
            update(model)
            .where(model.id.in_([uuid.UUID(i) for i in original]))
            .values(person_id=target)
            .execution_options(synchronize_session=False)
        )
    return original


async def _copy_consents(
    uow: UnitOfWork, sources: list[uuid.UUID], target: uuid.UUID, merge_id: uuid.UUID
) -> list[str]:
    """Append each source's live ledger entries to the target's ledger (never UPDATE)."""
    query = (
        select(ConsentEntry)
        .where(
            ConsentEntry.person_id.in_(sources),
            ConsentEntry.id.not_in(select(ConsentVoid.entry_id)),
        )
        .order_by(ConsentEntry.captured_at, ConsentEntry.recorded_at)
    )
    copies = []
    for entry in (await uow.session.scalars(query)).all():
        copy = ConsentEntry(
            tenant_id=uow.tenant_id,
            person_id=target,
            channel=entry.channel,
            purpose=entry.purpose,
            status=entry.status,
            source=entry.source,
            evidence=f"merge {merge_id}: copied from entry {entry.id} of {entry.person_id}",
            captured_at=entry.captured_at,
            recorded_by=uow.actor,
        )
        uow.session.add(copy)
        await uow.session.flush()
        copies.append(str(copy.id))
        event = ConsentGranted if copy.status == "granted" else ConsentWithdrawn
        uow.publish(
            event(
                tenant_id=uow.tenant_id,
                contact_id=str(target),
                channel=copy.channel,
                purpose=copy.purpose,
                source=copy.source,
                captured_at=copy.captured_at,
                entry_id=str(copy.id),
            )
        )
    return copies


async def _correct_consents(uow: UnitOfWork, survivor_id: uuid.UUID, voided: list[str]) -> None:
    """The survivor's consent again without the voided copies, per channel and purpose they
    touched. Other services hold the newest entry they saw, which may be a copy: they need
    the correction, or a survivor who withdrew could still be mailed on a copied grant."""
    if not voided:
        return
    copies = (
        await uow.session.scalars(
            select(ConsentEntry).where(ConsentEntry.id.in_([uuid.UUID(i) for i in voided]))
        )
    ).all()
    ledger = await consents.ledger(uow, survivor_id)
    remaining: dict[tuple[str, str], Any] = {
        (c.channel, c.purpose): c for c in consents.current(ledger)
    }
    for channel, purpose in sorted({(c.channel, c.purpose) for c in copies}):
        entry = remaining.get((channel, purpose))
        uow.publish(
            ConsentCorrected(
                tenant_id=uow.tenant_id,
                contact_id=str(survivor_id),
                channel=channel,
                purpose=purpose,
                status=entry.status if entry else "none",
                captured_at=entry.captured_at if entry else None,
                voided_entry_ids=sorted(
                    str(c.id) for c in copies if (c.channel, c.purpose) == (channel, purpose)
                ),
            )
        )


async def get_merge(uow: UnitOfWork, merge_id: uuid.UUID, *, for_update: bool = False) -> Merge:
    query = select(Merge).where(Merge.id == merge_id)
    found = await uow.session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound(f"No merge {merge_id}.")
    return found


async def undo(uow: UnitOfWork, merge_id: uuid.UUID) -> Merge:
    session = uow.session
    merge_row = await get_merge(uow, merge_id, for_update=True)
    if merge_row.undone_at is not None:
        raise Conflict("This merge was already undone.")
    now = datetime.now(UTC)
    if merge_row.expires_at <= now:
        raise Conflict("This merge is past its undo window.")
    everyone = await _lock(
        uow, [merge_row.survivor_id, *merge_row.merged_ids], include_deleted=True
    )
    survivor = everyone[merge_row.survivor_id]
    if survivor.deleted_at is not None:
        raise Conflict("The survivor was deleted since the merge.")
    states: dict[str, dict[str, Any]] = merge_row.undo["states"]
    # The survivor first: it gives back the merged people's emails and external id.
    survivor_state = _update(states[str(survivor.id)])
    people._apply(survivor, survivor_state)
    await people._apply_contact_points(session, survivor, survivor_state, uow.tenant_id)
    survivor.updated_at = now
    await session.flush()
    for pid in merge_row.merged_ids:
        person, state = everyone[pid], _update(states[str(pid)])
        await people._ensure_unique(uow, state, exclude=pid)
        person.deleted_at = None
        people._apply(person, state)
        await people._apply_contact_points(session, person, state, uow.tenant_id)
        person.updated_at = now
    await session.flush()
    for model, key in ((Role, "roles"), (Interaction, "interactions")):
        for row_id, person_id in merge_row.undo[key].items():
            await session.execute(
                update(model)
                .where(model.id == uuid.UUID(row_id), model.person_id == survivor.id)
                .values(person_id=uuid.UUID(person_id))
                .execution_options(synchronize_session=False)
            )
    for entry_id in merge_row.undo["consent_copies"]:
        session.add(
            ConsentVoid(
                tenant_id=uow.tenant_id,
                entry_id=uuid.UUID(entry_id),
                merge_id=merge_row.id,
                reason="merge undone",
            )
        )
    merge_row.undone_at = now
    await session.flush()
    await _correct_consents(uow, survivor.id, merge_row.undo["consent_copies"])
    uow.publish(
        ContactUnmerged(
            tenant_id=uow.tenant_id,
            contact_id=str(survivor.id),
            merge_id=str(merge_row.id),
            restored_ids=[str(pid) for pid in merge_row.merged_ids],
        )
    )
    for person in everyone.values():
        await session.refresh(person)
        uow.publish(
            ContactUpdated(
                tenant_id=uow.tenant_id,
                contact_id=str(person.id),
                contact=await contact_snapshot(session, person),
                changed=["unmerged"],
            )
        )
    return merge_row
