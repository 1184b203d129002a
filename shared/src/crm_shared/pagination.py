"""Cursor pagination: `?limit=&cursor=` in, `{items, next_cursor}` out.

The cursor is an opaque, URL-safe encoding of the last item's sort key, so pages stay stable
while rows are inserted or deleted (unlike offsets).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from crm_shared.errors import ValidationFailed

MAX_LIMIT = 200


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: list[Any] | None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValidationFailed(
            "The cursor is not valid.",
            errors=[{"pointer": "/cursor", "in": "query", "detail": "malformed cursor"}],
        ) from exc
    if not isinstance(value, list):
        raise ValidationFailed("The cursor is not valid.")
    return value


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="From next_cursor")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


def next_cursor(rows: list[Any], limit: int, key: Any) -> str | None:
    """Given `limit + 1` fetched rows, the cursor for the next page (or None)."""
    if len(rows) <= limit:
        return None
    return encode_cursor(key(rows[limit - 1]))
