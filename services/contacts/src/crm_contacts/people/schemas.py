from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_shared.validation import (
    Attributes,
    CountryCode,
    Email,
    LanguageTag,
    Name,
    Phone,
    ShortText,
    StrictModel,
    Tags,
    TimeZoneName,
    UserId,
)

LifecycleStage = Literal["subscriber", "lead", "prospect", "customer", "former_customer"]
RelationshipLevel = Literal["basic", "reactive", "accountable", "proactive", "partnership"]
PreferredChannel = Literal["email", "phone", "sms", "chat", "post", "in_person", "social"]
PhoneKind = Literal["mobile", "work", "home", "other"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class EmailIn(StrictModel):
    email: Email
    primary: bool = False


class PhoneIn(StrictModel):
    number: Phone
    kind: PhoneKind = "mobile"
    primary: bool = False


class Address(StrictModel):
    kind: Literal["home", "work", "billing", "shipping", "other"] = "work"
    line1: Annotated[str, Field(max_length=200)] | None = None
    line2: Annotated[str, Field(max_length=200)] | None = None
    city: Annotated[str, Field(max_length=100)] | None = None
    region: Annotated[str, Field(max_length=100)] | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: CountryCode | None = None


class ContactHours(StrictModel):
    days: Annotated[list[Weekday], Field(max_length=7)] = ["mon", "tue", "wed", "thu", "fri"]
    start: time = time(9, 0)
    end: time = time(17, 0)

    @model_validator(mode="after")
    def _ordered(self) -> ContactHours:
        if self.start >= self.end:
            raise ValueError("contact hours must start before they end")
        return self


class Preferences(StrictModel):
    preferred_channel: PreferredChannel | None = None
    contact_hours: ContactHours | None = None
    do_not_contact: bool = False


def _one_primary(items: Sequence[EmailIn | PhoneIn], what: str) -> None:
    """At most one primary; the first one is primary when none is marked."""
    primaries = sum(1 for i in items if i.primary)
    if primaries > 1:
        raise ValueError(f"at most one {what} can be primary")
    if items and primaries == 0:
        items[0].primary = True


class PersonFields(StrictModel):
    first_name: Name | None = None
    last_name: Name | None = None
    emails: Annotated[list[EmailIn], Field(max_length=10)] | None = None
    phones: Annotated[list[PhoneIn], Field(max_length=10)] | None = None
    addresses: Annotated[list[Address], Field(max_length=10)] | None = None
    job_title: ShortText | None = None
    language: LanguageTag | None = None
    timezone: TimeZoneName | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: Annotated[str, Field(max_length=100)] | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    tags: Tags | None = None
    attributes: Attributes | None = None
    owner_id: UserId | None = None
    relationship_level: RelationshipLevel | None = None
    preferences: Preferences | None = None

    @field_validator("emails")
    @classmethod
    def _emails(cls, emails: list[EmailIn] | None) -> list[EmailIn] | None:
        if emails is not None:
            if len({e.email for e in emails}) != len(emails):
                raise ValueError("the same email is listed twice")
            _one_primary(emails, "email")
        return emails

    @field_validator("phones")
    @classmethod
    def _phones(cls, phones: list[PhoneIn] | None) -> list[PhoneIn] | None:
        if phones is not None:
            _one_primary(phones, "phone")
        return phones


class PersonCreate(PersonFields):
    lifecycle_stage: LifecycleStage | None = "lead"

    @model_validator(mode="after")
    def _identifiable(self) -> PersonCreate:
        if not (self.first_name or self.last_name or self.emails or self.phones):
            raise ValueError("a person needs a name, an email or a phone")
        return self


class PersonUpdate(PersonFields):
    """PATCH: fields present replace the stored value; absent fields stay as they are."""


class EmailOut(BaseModel):
    email: str
    primary: bool


class PhoneOut(BaseModel):
    number: str
    kind: str
    primary: bool


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    emails: list[EmailOut]
    phones: list[PhoneOut]
    addresses: list[Address]
    job_title: str | None
    language: str | None
    timezone: str | None
    lifecycle_stage: LifecycleStage
    source: str | None
    external_id: str | None
    tags: list[str]
    attributes: dict[str, object]
    owner_id: str | None
    relationship_level: RelationshipLevel | None
    preferences: Preferences
    version: int
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None = None


class PersonFilters(BaseModel):
    lifecycle_stage: LifecycleStage | None = None
    owner_id: str | None = None
    company_id: uuid.UUID | None = None
    tag: str | None = None
    updated_since: datetime | None = None
    q: str | None = None
