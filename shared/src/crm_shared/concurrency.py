"""Optimistic concurrency over HTTP: `ETag` on reads, `If-Match` required on writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response

from crm_shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def if_match_version(request: Request) -> int:
    """The version the client based its change on; 428 if absent, 412 if unreadable."""
    return _if_match_header(request.headers.get("if-match"))


def _if_match_header(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", description='The ETag you read, e.g. "3" (required)'),
    ] = None,
) -> int:
    """Dependency form of `if_match_version`, so the header appears in the OpenAPI document."""
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the ETag you read.")
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed("If-Match does not name a version of this resource.")
    return int(value)


IfMatch = Annotated[int, Depends(_if_match_header)]


def check_version(current: int, expected: int) -> None:
    if current != expected:
        raise PreconditionFailed(
            f"The resource is at version {current}, not {expected}.",
            headers={"ETag": etag(current)},
        )
