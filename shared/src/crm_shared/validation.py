"""Input types with normalisation shared by the services: emails, E.164 phones, countries,
time zones, tags and bounded custom attributes."""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

import orjson
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_ATTRIBUTES_BYTES = 16_000


class StrictModel(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def normalize_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


def normalize_phone(value: str) -> str:
    """E.164 (`+48601234567`); a number must carry its country code."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a valid phone number; use E.164, e.g. +48601234567") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number; use E.164, e.g. +48601234567")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError("not an IANA time zone, e.g. Europe/Warsaw")
    return value


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(orjson.dumps(value)) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"custom attributes are limited to {MAX_ATTRIBUTES_BYTES} bytes")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalize_email)]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(normalize_phone)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
LanguageTag = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
Tags = Annotated[list[Tag], Field(max_length=50)]
Attributes = Annotated[dict[str, Any], Field(max_length=100), AfterValidator(_attributes)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
