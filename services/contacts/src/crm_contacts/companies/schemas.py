from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from crm_contacts.people.schemas import RelationshipLevel
from crm_shared.validation import Attributes, CountryCode, ShortText, StrictModel, Tags, UserId

# Stored lower-case: domains are case-insensitive, and imports match companies on them.
Domain = Annotated[
    str,
    Field(max_length=253, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"),
    AfterValidator(str.lower),
]


class CompanyFields(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    domain: Domain | None = None
    industry: Annotated[str, Field(max_length=100)] | None = None
    employee_count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    country: CountryCode | None = None
    parent_id: uuid.UUID | None = None
    owner_id: UserId | None = None
    relationship_level: RelationshipLevel | None = None
    tags: Tags | None = None
    attributes: Attributes | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class CompanyCreate(CompanyFields):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class CompanyUpdate(CompanyFields):
    """PATCH: fields present replace the stored value (`parent_id: null` detaches)."""


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    country: str | None
    parent_id: uuid.UUID | None
    owner_id: str | None
    relationship_level: RelationshipLevel | None
    tags: list[str]
    attributes: dict[str, object]
    external_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class CompanyNode(BaseModel):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    depth: int


class CompanyFilters(BaseModel):
    owner_id: str | None = None
    external_id: str | None = None
    country: str | None = None
    industry: str | None = None
    tag: str | None = None
    updated_since: datetime | None = None
    q: Annotated[str, Field(max_length=200)] | None = None


class RoleFields(StrictModel):
    title: ShortText | None = None
    is_primary: bool | None = None
    start_date: date | None = None
    end_date: date | None = None


class RoleCreate(RoleFields):
    person_id: uuid.UUID
    company_id: uuid.UUID

    @model_validator(mode="after")
    def _period(self) -> RoleCreate:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class RoleUpdate(RoleFields):
    pass


class RoleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    company_id: uuid.UUID
    title: str | None
    is_primary: bool
    start_date: date | None
    end_date: date | None
