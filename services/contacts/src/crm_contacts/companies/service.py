"""Companies with a parent/subsidiary hierarchy, and people's roles in them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Select, literal, select, text
from sqlalchemy.orm import aliased

from crm_contacts.companies.models import Company, Role
from crm_contacts.companies.schemas import (
    CompanyCreate,
    CompanyFields,
    CompanyFilters,
    CompanyNode,
    RoleCreate,
    RoleUpdate,
)
from crm_contacts.custom_fields.service import attribute_filters, checked_attributes
from crm_contacts.database import ensure_external_id_free
from crm_contacts.events import company_snapshot
from crm_contacts.people.service import get_person
from crm_shared.concurrency import check_version
from crm_shared.errors import NotFound, ValidationFailed
from crm_shared.events.catalog import (
    CompanyCreated,
    CompanyDeleted,
    CompanyUpdated,
    ContactRoleAdded,
    ContactRoleRemoved,
    ContactRoleUpdated,
)
from crm_shared.pagination import PageParams
from crm_shared.uow import UnitOfWork

FIELDS = (
    "name",
    "domain",
    "industry",
    "employee_count",
    "country",
    "parent_id",
    "owner_id",
    "relationship_level",
    "tags",
    "attributes",
    "external_id",
)
MAX_DEPTH = 50


async def create_company(uow: UnitOfWork, data: CompanyCreate) -> Company:
    company = Company(tenant_id=uow.tenant_id, tags=[], attributes={})
    await ensure_external_id_free(uow, Company, data.external_id, None, "company")
    data.attributes = await checked_attributes(uow, "company", data.attributes)
    if data.parent_id is not None:
        await _lock_hierarchy(uow)
        await get_company(uow, data.parent_id)
    _apply(company, data)
    uow.session.add(company)
    await uow.session.flush()
    uow.publish(
        CompanyCreated(
            tenant_id=uow.tenant_id, company_id=str(company.id), company=company_snapshot(company)
        )
    )
    return company


async def get_company(
    uow: UnitOfWork, company_id: uuid.UUID, *, for_update: bool = False
) -> Company:
    query = select(Company).where(Company.id == company_id, Company.deleted_at.is_(None))
    company = await uow.session.scalar(query.with_for_update() if for_update else query)
    if company is None:
        raise NotFound(f"No company {company_id}.")
    return company


async def update_company(
    uow: UnitOfWork, company_id: uuid.UUID, data: CompanyFields, *, expected_version: int
) -> Company:
    if "parent_id" in data.model_fields_set:
        # The tree lock comes before any row lock: the parent's foreign-key check takes a
        # share lock on the parent row, and the other order deadlocks with a concurrent move.
        await _lock_hierarchy(uow)
    company = await get_company(uow, company_id, for_update=True)
    check_version(company.version, expected_version)
    if "external_id" in data.model_fields_set:
        await ensure_external_id_free(uow, Company, data.external_id, company.id, "company")
    if "parent_id" in data.model_fields_set and data.parent_id != company.parent_id:
        await _check_parent(uow, company.id, data.parent_id)
    if "attributes" in data.model_fields_set:
        data.attributes = await checked_attributes(uow, "company", data.attributes)
    changed = _apply(company, data)
    if changed:
        company.updated_at = datetime.now(UTC)
        await uow.session.flush()
        uow.publish(
            CompanyUpdated(
                tenant_id=uow.tenant_id,
                company_id=str(company.id),
                company=company_snapshot(company),
                changed=sorted(changed),
            )
        )
    return company


async def delete_company(uow: UnitOfWork, company_id: uuid.UUID, *, expected_version: int) -> None:
    company = await get_company(uow, company_id, for_update=True)
    check_version(company.version, expected_version)
    company.deleted_at = datetime.now(UTC)
    await uow.session.flush()
    uow.publish(CompanyDeleted(tenant_id=uow.tenant_id, company_id=str(company.id)))


async def filtered_query(
    uow: UnitOfWork, f: CompanyFilters, attrs: dict[str, str] | None = None
) -> Select[Company]:
    """Live companies matching the list filters (`attr.<key>` included), unordered."""
    query = select(Company).where(Company.deleted_at.is_(None))
    for key, value in (await attribute_filters(uow, "company", attrs or {})).items():
        query = query.where(Company.attributes.contains({key: value}))
    if f.owner_id:
        query = query.where(Company.owner_id == f.owner_id)
    if f.external_id:
        query = query.where(Company.external_id == f.external_id)
    if f.country:
        query = query.where(Company.country == f.country)
    if f.industry:
        query = query.where(Company.industry == f.industry)
    if f.tag:
        query = query.where(Company.tags.contains([f.tag]))
    if f.updated_since:
        query = query.where(Company.updated_at >= f.updated_since)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        query = query.where(Company.name.ilike(like) | Company.domain.ilike(like))
    return query


async def list_companies(
    uow: UnitOfWork, f: CompanyFilters, page: PageParams, attrs: dict[str, str] | None = None
) -> list[Company]:
    query = await filtered_query(uow, f, attrs)
    if page.cursor:
        query = query.where(Company.id > uuid.UUID(str(page.cursor[0])))
    return list((await uow.session.scalars(query.order_by(Company.id).limit(page.limit + 1))).all())


async def ancestors(uow: UnitOfWork, company_id: uuid.UUID) -> list[CompanyNode]:
    """From the direct parent up to the root."""
    await get_company(uow, company_id)
    up = (
        select(Company.id, Company.name, Company.parent_id, literal(0).label("depth"))
        .where(Company.id == company_id)
        .cte("up", recursive=True)
    )
    parent = aliased(Company)
    up = up.union_all(
        select(parent.id, parent.name, parent.parent_id, (up.c.depth + 1).label("depth"))
        .join(up, parent.id == up.c.parent_id)
        .where(up.c.depth < MAX_DEPTH)
    )
    rows = await uow.session.execute(select(up).where(up.c.depth > 0).order_by(up.c.depth))
    return [CompanyNode(id=r.id, name=r.name, parent_id=r.parent_id, depth=r.depth) for r in rows]


async def descendants(uow: UnitOfWork, company_id: uuid.UUID) -> list[CompanyNode]:
    """Every subsidiary, breadth first, with its depth below `company_id`."""
    await get_company(uow, company_id)
    down = (
        select(Company.id, Company.name, Company.parent_id, literal(0).label("depth"))
        .where(Company.id == company_id)
        .cte("down", recursive=True)
    )
    child = aliased(Company)
    down = down.union_all(
        select(child.id, child.name, child.parent_id, (down.c.depth + 1).label("depth"))
        .join(down, child.parent_id == down.c.id)
        .where(child.deleted_at.is_(None), down.c.depth < MAX_DEPTH)
    )
    rows = await uow.session.execute(
        select(down).where(down.c.depth > 0).order_by(down.c.depth, down.c.name)
    )
    return [CompanyNode(id=r.id, name=r.name, parent_id=r.parent_id, depth=r.depth) for r in rows]


async def _lock_hierarchy(uow: UnitOfWork) -> None:
    """Serialise hierarchy edits per tenant, so two concurrent re-parentings cannot together
    form a cycle that neither could see alone."""
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"company-tree:{uow.tenant_id}"}
    )


async def _check_parent(
    uow: UnitOfWork, company_id: uuid.UUID, parent_id: uuid.UUID | None
) -> None:
    if parent_id is None:
        return
    await get_company(uow, parent_id)
    lineage = {node.id for node in await ancestors(uow, parent_id)} | {parent_id}
    if company_id in lineage:
        raise ValidationFailed(
            "A company cannot be its own ancestor.",
            errors=[
                {
                    "pointer": "/parent_id",
                    "in": "body",
                    "code": "hierarchy_cycle",
                    "detail": "this parent would create a cycle in the company hierarchy",
                }
            ],
        )


def _apply(company: Company, data: CompanyFields) -> set[str]:
    changed = set()
    present = set(FIELDS) if isinstance(data, CompanyCreate) else data.model_fields_set
    for name in FIELDS:
        value = getattr(data, name)
        if value is None and name in ("tags", "attributes"):
            value = [] if name == "tags" else {}
        if name in present and getattr(company, name) != value:
            setattr(company, name, value)
            changed.add(name)
    return changed


# --- roles -------------------------------------------------------------------------------


async def add_role(uow: UnitOfWork, data: RoleCreate) -> Role:
    await get_person(uow, data.person_id)
    await get_company(uow, data.company_id)
    role = Role(
        tenant_id=uow.tenant_id,
        person_id=data.person_id,
        company_id=data.company_id,
        title=data.title,
        is_primary=bool(data.is_primary),
        start_date=data.start_date,
        end_date=data.end_date,
    )
    if role.is_primary:
        await _clear_primary(uow, data.person_id)
    uow.session.add(role)
    await uow.session.flush()
    uow.publish(_role_event(ContactRoleAdded, uow, role))
    return role


async def update_role(uow: UnitOfWork, role_id: uuid.UUID, data: RoleUpdate) -> Role:
    role = await _get_role(uow, role_id)
    for name in ("title", "start_date", "end_date"):
        if name in data.model_fields_set:
            setattr(role, name, getattr(data, name))
    if data.is_primary is not None and data.is_primary != role.is_primary:
        if data.is_primary:
            await _clear_primary(uow, role.person_id)
        role.is_primary = data.is_primary
    if role.start_date and role.end_date and role.end_date < role.start_date:
        raise ValidationFailed(
            "end_date is before start_date",
            errors=[{"pointer": "/end_date", "in": "body", "detail": "before start_date"}],
        )
    await uow.session.flush()
    uow.publish(_role_event(ContactRoleUpdated, uow, role))
    return role


async def remove_role(uow: UnitOfWork, role_id: uuid.UUID) -> None:
    role = await _get_role(uow, role_id)
    await uow.session.delete(role)
    await uow.session.flush()
    uow.publish(_role_event(ContactRoleRemoved, uow, role))


async def roles_of(
    uow: UnitOfWork, *, person_id: uuid.UUID | None = None, company_id: uuid.UUID | None = None
) -> list[Role]:
    query = select(Role).order_by(Role.is_primary.desc(), Role.created_at)
    if person_id is not None:
        query = query.where(Role.person_id == person_id)
    if company_id is not None:
        query = query.where(Role.company_id == company_id)
    return list((await uow.session.scalars(query)).all())


async def _get_role(uow: UnitOfWork, role_id: uuid.UUID) -> Role:
    role = await uow.session.scalar(select(Role).where(Role.id == role_id).with_for_update())
    if role is None:
        raise NotFound(f"No role {role_id}.")
    return role


async def _clear_primary(uow: UnitOfWork, person_id: uuid.UUID) -> None:
    for other in await roles_of(uow, person_id=person_id):
        other.is_primary = False


RoleEvent = TypeVar("RoleEvent", ContactRoleAdded, ContactRoleUpdated, ContactRoleRemoved)


def _role_event(event: type[RoleEvent], uow: UnitOfWork, role: Role) -> RoleEvent:
    return event(
        tenant_id=uow.tenant_id,
        contact_id=str(role.person_id),
        role_id=str(role.id),
        company_id=str(role.company_id),
        title=role.title,
        is_primary=role.is_primary,
        start_date=role.start_date,
        end_date=role.end_date,
    )
