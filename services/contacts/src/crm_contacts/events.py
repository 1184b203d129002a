"""Snapshots of the contacts aggregates as the event catalog publishes them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_contacts.companies.models import Company, Role
from crm_contacts.people.models import Person
from crm_shared.events.catalog import CompanySnapshot, ContactSnapshot


async def contact_snapshot(
    session: AsyncSession, person: Person, *, new: bool = False
) -> ContactSnapshot:
    """The person as events carry it; a person just created has no roles yet (no query)."""
    company_ids: Sequence[uuid.UUID] = []
    if not new:
        query = select(Role.company_id).where(Role.person_id == person.id, Role.end_date.is_(None))
        company_ids = (await session.scalars(query)).all()
    primary = next((e.email for e in person.emails if e.is_primary), None)
    country = next((a.get("country") for a in person.addresses if a.get("country")), None)
    return ContactSnapshot(
        contact_id=str(person.id),
        first_name=person.first_name,
        last_name=person.last_name,
        primary_email=primary,
        emails=[e.email for e in person.emails],
        phones=[p.number for p in person.phones],
        job_title=person.job_title,
        language=person.language,
        timezone=person.timezone,
        country=country,
        lifecycle_stage=person.lifecycle_stage,
        source=person.source,
        tags=list(person.tags),
        attributes=dict(person.attributes),
        owner_id=person.owner_id,
        relationship_level=person.relationship_level,
        preferred_channel=person.preferred_channel,
        do_not_contact=person.do_not_contact,
        company_ids=sorted(str(c) for c in set(company_ids)),
        version=person.version,
        updated_at=person.updated_at,
    )


def company_snapshot(company: Company) -> CompanySnapshot:
    return CompanySnapshot(
        company_id=str(company.id),
        name=company.name,
        domain=company.domain,
        industry=company.industry,
        employee_count=company.employee_count,
        country=company.country,
        parent_id=str(company.parent_id) if company.parent_id else None,
        owner_id=company.owner_id,
        relationship_level=company.relationship_level,
        tags=list(company.tags),
        external_id=company.external_id,
        version=company.version,
        updated_at=company.updated_at,
    )
