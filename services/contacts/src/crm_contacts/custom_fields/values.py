"""How custom field values are checked and read from query strings."""

from __future__ import annotations

from datetime import date
from typing import Any

MAX_TEXT = 1000


def coerce(kind: str, options: list[str], value: Any) -> Any:
    """The value as stored for a field of `kind`; ValueError when it does not fit."""
    if kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"expected text of at most {MAX_TEXT} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise ValueError("expected a date (YYYY-MM-DD)") from None
    if value not in options:  # select
        raise ValueError(f"expected one of: {', '.join(options)}")
    return value


def parse_query_value(kind: str, options: list[str], raw: str) -> Any:
    """A `?attr.<key>=` value read as the field's type."""
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("expected true or false")
        return raw == "true"
    return coerce(kind, options, raw)
