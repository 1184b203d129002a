"""Ownership transfer: everything one user owns moves to another in one transaction, so a
salesperson leaving loses the company nothing. One event per changed record."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import update

from crm_contacts.companies.models import Company
from crm_contacts.people.models import Person
from crm_shared.events.catalog import CompanyOwnerChanged, ContactOwnerChanged
from crm_shared.uow import UnitOfWork


class TransferResult(BaseModel):
    from_owner_id: str
    to_owner_id: str
    people: int
    companies: int


async def transfer_ownership(
    uow: UnitOfWork, *, from_owner: str, to_owner: str, people: bool = True, companies: bool = True
) -> TransferResult:
    now = datetime.now(UTC)
    moved_people = moved_companies = []
    if people:
        moved_people = list(
            (
                await uow.session.scalars(
                    update(Person)
                    .where(Person.owner_id == from_owner, Person.deleted_at.is_(None))
                    .values(owner_id=to_owner, version=Person.version + 1, updated_at=now)
                    .returning(Person.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        for person_id in moved_people:
            uow.publish(
                ContactOwnerChanged(
                    tenant_id=uow.tenant_id,
                    contact_id=str(person_id),
                    previous_owner_id=from_owner,
                    owner_id=to_owner,
                )
            )
    if companies:
        moved_companies = list(
            (
                await uow.session.scalars(
                    update(Company)
                    .where(Company.owner_id == from_owner, Company.deleted_at.is_(None))
                    .values(owner_id=to_owner, version=Company.version + 1, updated_at=now)
                    .returning(Company.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        for company_id in moved_companies:
            uow.publish(
                CompanyOwnerChanged(
                    tenant_id=uow.tenant_id,
                    company_id=str(company_id),
                    previous_owner_id=from_owner,
                    owner_id=to_owner,
                )
            )
    return TransferResult(
        from_owner_id=from_owner,
        to_owner_id=to_owner,
        people=len(moved_people),
        companies=len(moved_companies),
    )
