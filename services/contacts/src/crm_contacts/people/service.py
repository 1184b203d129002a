"""People: create, read, list, update, delete. Business rules live here, not in the router."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from crm_contacts.companies.models import Role
from crm_contacts.custom_fields.service import attribute_filters, checked_attributes
from crm_contacts.database import ensure_external_id_free
from crm_contacts.events import contact_snapshot
from crm_contacts.people.models import Person, PersonEmail, PersonPhone
from crm_contacts.people.schemas import (
    EmailOut,
    PersonCreate,
    PersonFields,
    PersonFilters,
    PersonRead,
    PersonUpdate,
    PhoneOut,
    Preferences,
)
from crm_shared.concurrency import check_version
from crm_shared.errors import Conflict, NotFound
from crm_shared.events.catalog import ContactCreated, ContactDeleted, ContactUpdated
from crm_shared.ids import uuid7
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

SCALARS = (
    "first_name",
    "last_name",
    "job_title",
    "language",
    "timezone",
    "lifecycle_stage",
    "source",
    "external_id",
    "tags",
    "attributes",
    "owner_id",
    "relationship_level",
)
EMPTY: dict[str, type[list[str]] | type[dict[str, Any]]] = {"tags": list, "attributes": dict}


async def create_person(uow: UnitOfWork, data: PersonCreate) -> Person:
    await _ensure_unique(uow, data)
    data.attributes = await checked_attributes(uow, "person", data.attributes)
    person = Person(
        tenant_id=uow.tenant_id, tags=[], attributes={}, addresses=[], emails=[], phones=[]
    )
    _apply(person, data)
    await _apply_contact_points(uow.session, person, data, uow.tenant_id)
    await _insert(uow, person)
    uow.publish(
        ContactCreated(
            tenant_id=uow.tenant_id,
            contact_id=str(person.id),
            contact=await contact_snapshot(uow.session, person, new=True),
        )
    )
    return person


async def _insert(uow: UnitOfWork, person: Person) -> None:
    """Plain INSERTs on the driver for a new person and its contact points: the API's hot
    path, where the ORM's unit of work would only add bookkeeping (the object is not
    tracked afterwards)."""
    person.id, person.version = uuid7(), 1
    person.created_at = person.updated_at = datetime.now(UTC)
    driver = await uow.driver()
    await driver.execute(_insert_sql(Person), *_values(person))
    for children in (person.emails, person.phones):
        for child in children:
            child.id, child.person_id = uuid7(), person.id
        if children:
            sql = _insert_sql(type(children[0]))
            await driver.executemany(sql, [_values(child) for child in children])


@cache
def _insert_sql(model: type[Any]) -> str:
    columns = [c.name for c in model.__table__.columns]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) VALUES ({placeholders})"


def _values(row: Any) -> list[Any]:
    """Column values in table order; JSON columns as text (what the jsonb codec that
    SQLAlchemy registers on its connections encodes)."""
    values = []
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if isinstance(column.type, JSONB) and value is not None:
            value = orjson.dumps(value).decode()
        values.append(value)
    return values


async def get_person(
    uow: UnitOfWork,
    person_id: uuid.UUID,
    *,
    for_update: bool = False,
    include_deleted: bool = False,
) -> Person:
    query = select(Person).where(Person.id == person_id)
    if not include_deleted:
        query = query.where(Person.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    person = await uow.session.scalar(query)
    if person is None:
        raise NotFound(f"No person {person_id}.")
    return person


async def update_person(
    uow: UnitOfWork, person_id: uuid.UUID, data: PersonUpdate, *, expected_version: int
) -> Person:
    person = await get_person(uow, person_id, for_update=True)
    check_version(person.version, expected_version)
    if person.erased_at is not None:
        raise Conflict("This person was erased and cannot be edited.")
    await _ensure_unique(uow, data, exclude=person.id)
    if "attributes" in data.model_fields_set:
        data.attributes = await checked_attributes(uow, "person", data.attributes)
    changed = _apply(person, data)
    changed |= await _apply_contact_points(uow.session, person, data, uow.tenant_id)
    if changed:
        await uow.session.flush()
        uow.publish(
            ContactUpdated(
                tenant_id=uow.tenant_id,
                contact_id=str(person.id),
                contact=await contact_snapshot(uow.session, person),
                changed=sorted(changed),
            )
        )
    return person


async def delete_person(uow: UnitOfWork, person_id: uuid.UUID, *, expected_version: int) -> None:
    person = await get_person(uow, person_id, for_update=True)
    check_version(person.version, expected_version)
    person.deleted_at = datetime.now(UTC)
    person.emails.clear()  # frees the addresses for reuse; the tombstone keeps the row
    await uow.session.flush()
    uow.publish(ContactDeleted(tenant_id=uow.tenant_id, contact_id=str(person.id)))


async def list_people(
    uow: UnitOfWork,
    filters: PersonFilters,
    page: PageParams,
    attrs: dict[str, str] | None = None,
) -> list[Person]:
    query = await filtered_query(uow, filters, attrs)
    if page.cursor:
        query = query.where(Person.id > uuid.UUID(str(page.cursor[0])))
    query = query.order_by(Person.id).limit(page.limit + 1)
    return list((await uow.session.scalars(query)).all())


async def filtered_query(
    uow: UnitOfWork, filters: PersonFilters, attrs: dict[str, str] | None = None
) -> Select[Person]:
    """Live people matching the list filters (`attr.<key>` included), unordered."""
    query = _filtered(select(Person).where(Person.deleted_at.is_(None)), filters)
    for key, value in (await attribute_filters(uow, "person", attrs or {})).items():
        query = query.where(Person.attributes.contains({key: value}))
    return query


def _filtered(query: Select[Person], f: PersonFilters) -> Select[Person]:
    if f.lifecycle_stage:
        query = query.where(Person.lifecycle_stage == f.lifecycle_stage)
    if f.owner_id:
        query = query.where(Person.owner_id == f.owner_id)
    if f.tag:
        query = query.where(Person.tags.contains([f.tag]))
    if f.updated_since:
        query = query.where(Person.updated_at >= f.updated_since)
    if f.company_id:
        query = query.where(
            exists().where(and_(Role.person_id == Person.id, Role.company_id == f.company_id))
        )
    if f.q:
        query = query.where(_matches(f.q))
    return query


def _matches(q: str) -> Any:
    """Search over name, email and phone (digits only, so `+48 601` finds `+48601...`)."""
    pattern = f"%{q.replace('%', '').replace('_', '')}%"
    full_name = func.coalesce(Person.first_name, "") + " " + func.coalesce(Person.last_name, "")
    clauses = [
        full_name.ilike(pattern),
        exists().where(and_(PersonEmail.person_id == Person.id, PersonEmail.email.ilike(pattern))),
    ]
    digits = "".join(ch for ch in q if ch.isdigit())
    if len(digits) >= 3:
        clauses.append(
            exists().where(
                and_(PersonPhone.person_id == Person.id, PersonPhone.number.like(f"%{digits}%"))
            )
        )
    return or_(*clauses)


EMAIL_HOLDER = """
    SELECT email, person_id FROM person_emails
    WHERE email = ANY($1::varchar[]) AND ($2::uuid IS NULL OR person_id <> $2)
    LIMIT 1
"""


async def _ensure_unique(
    uow: UnitOfWork, data: PersonFields, exclude: uuid.UUID | None = None
) -> None:
    """The uniqueness rules (email, external id) with a clear 409 naming the holder.
    The unique indexes still decide races; this only makes the common case readable."""
    if data.emails:
        taken = await (await uow.driver()).fetchrow(
            EMAIL_HOLDER, [e.email for e in data.emails], exclude
        )
        if taken:
            raise Conflict(
                f"The email {taken['email']} belongs to another person.",
                extra={"conflicting_id": str(taken["person_id"]), "field": "emails"},
            )
    await ensure_external_id_free(uow, Person, data.external_id, exclude, "person")


def _present(data: PersonFields) -> set[str]:
    """A create applies every field (defaults included); a PATCH only the fields sent."""
    return set(type(data).model_fields) if isinstance(data, PersonCreate) else data.model_fields_set


def _apply(person: Person, data: PersonFields) -> set[str]:
    """Copy the fields present in `data` onto `person`; returns the names that changed."""
    present = _present(data)
    changed: set[str] = set()
    for name in SCALARS:
        value = getattr(data, name)
        if value is None and name in EMPTY:
            value = EMPTY[name]()  # `null` clears a collection
        if name in present and getattr(person, name) != value:
            setattr(person, name, value)
            changed.add(name)
    if "addresses" in present:
        addresses = [a.model_dump(mode="json") for a in data.addresses or []]
        if addresses != person.addresses:
            person.addresses = addresses
            changed.add("addresses")
    if "preferences" in present:
        prefs = data.preferences or Preferences()
        hours = prefs.contact_hours.model_dump(mode="json") if prefs.contact_hours else None
        new = (prefs.preferred_channel, hours, prefs.do_not_contact)
        if new != (person.preferred_channel, person.contact_hours, person.do_not_contact):
            person.preferred_channel, person.contact_hours, person.do_not_contact = new
            changed.add("preferences")
    if changed and person.version is not None:
        person.updated_at = datetime.now(UTC)
    return changed


async def _apply_contact_points(
    session: AsyncSession, person: Person, data: PersonFields, tenant_id: str
) -> set[str]:
    """Replace emails and phones when they differ. Old rows are deleted and flushed first,
    because the unit of work would otherwise insert before it deletes (unique emails)."""
    present, changed = _present(data), set()
    emails = [(e.email, e.primary) for e in data.emails or []]
    if "emails" in present and emails != [(e.email, e.is_primary) for e in person.emails]:
        changed.add("emails")
    phones = [(p.number, p.kind, p.primary) for p in data.phones or []]
    if "phones" in present and phones != [(p.number, p.kind, p.is_primary) for p in person.phones]:
        changed.add("phones")
    if not changed:
        return changed
    if person.version is not None:  # an existing person: clear first
        if "emails" in changed:
            person.emails.clear()
        if "phones" in changed:
            person.phones.clear()
        person.updated_at = datetime.now(UTC)
        await session.flush()
    if "emails" in changed:
        person.emails = [
            PersonEmail(tenant_id=tenant_id, email=email, is_primary=primary, position=i)
            for i, (email, primary) in enumerate(emails)
        ]
    if "phones" in changed:
        person.phones = [
            PersonPhone(tenant_id=tenant_id, number=n, kind=k, is_primary=pr, position=i)
            for i, (n, k, pr) in enumerate(phones)
        ]
    return changed


def to_read(person: Person) -> PersonRead:
    emails = [{"email": e.email, "primary": e.is_primary} for e in person.emails]
    phones = [{"number": p.number, "kind": p.kind, "primary": p.is_primary} for p in person.phones]
    return _read_model(person, emails, phones)


# The read path in one round trip: the person with its emails and phones aggregated as JSON.
READ_PERSON = """
    SELECT p.*,
      coalesce((SELECT json_agg(json_build_object('email', e.email, 'primary', e.is_primary)
                                ORDER BY e.position)
                FROM person_emails e WHERE e.person_id = p.id), '[]') AS email_rows,
      coalesce((SELECT json_agg(json_build_object('number', t.number, 'kind', t.kind,
                                                  'primary', t.is_primary) ORDER BY t.position)
                FROM person_phones t WHERE t.person_id = p.id), '[]') AS phone_rows
    FROM people p
    WHERE p.id = $1 AND p.deleted_at IS NULL
"""


async def read_person(uow: UnitOfWork, person_id: uuid.UUID) -> PersonRead:
    row = await (await uow.driver()).fetchrow(READ_PERSON, person_id)
    if row is None:
        raise NotFound(f"No person {person_id}.")
    # JSON arrives decoded: SQLAlchemy registers json/jsonb codecs on its connections.
    return _read_model(SimpleNamespace(**row), row["email_rows"], row["phone_rows"])


def _read_model(
    person: Any, emails: list[dict[str, Any]], phones: list[dict[str, Any]]
) -> PersonRead:
    return PersonRead(
        id=person.id,
        first_name=person.first_name,
        last_name=person.last_name,
        emails=[EmailOut(**e) for e in emails],
        phones=[PhoneOut(**p) for p in phones],
        addresses=person.addresses,
        job_title=person.job_title,
        language=person.language,
        timezone=person.timezone,
        lifecycle_stage=person.lifecycle_stage,
        source=person.source,
        external_id=person.external_id,
        tags=list(person.tags),
        attributes=dict(person.attributes),
        owner_id=person.owner_id,
        relationship_level=person.relationship_level,
        preferences=Preferences.model_validate(
            {
                "preferred_channel": person.preferred_channel,
                "contact_hours": person.contact_hours,
                "do_not_contact": person.do_not_contact,
            }
        ),
        version=person.version,
        created_at=person.created_at,
        updated_at=person.updated_at,
        erased_at=person.erased_at,
    )
