"""RFC 9457 problem documents for every failure a client can see.

Domain code raises `Problem` subclasses; the handlers installed by `install_error_handlers`
turn those, validation failures, database outages and anything unexpected into
`application/problem+json` with a stable `type` URI and `code`. No stack trace ever leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
TYPE_BASE = "https://errors.crm.dev/"
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    status = 500
    code = "internal_error"
    title = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any]] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors)
        self.extra = extra or {}
        self.headers = headers or {}

    def document(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.code.replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


class BadRequest(Problem):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, code, title = 404, "not_found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(Problem):
    status, code, title = 412, "precondition_failed", "The resource changed since you read it"


class PreconditionRequired(Problem):
    status, code, title = 428, "precondition_required", "If-Match header required"


class Unprocessable(Problem):
    status, code, title = 422, "unprocessable", "The request cannot be applied"


class ValidationFailed(Problem):
    status, code, title = 422, "validation_failed", "The request is not valid"


class PayloadTooLarge(Problem):
    status, code, title = 413, "payload_too_large", "Payload too large"


class RateLimited(Problem):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(Problem):
    status, code, title = 503, "service_unavailable", "A dependency is unavailable, retry later"


class FieldError(BaseModel):
    pointer: str = Field(description="RFC 6901 pointer to the offending input")
    detail: str
    code: str | None = None
    in_: str | None = Field(default=None, alias="in", description="body, query, path, header")


class ProblemDocument(BaseModel):
    """RFC 9457 problem details, as every error response carries them."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://errors.crm.dev/validation-failed"])
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDocument, "description": description}
    for status, description in {
        401: "Missing, expired or invalid token",
        403: "The token lacks a role or belongs to another tenant",
        422: "Validation failed; `errors` points at each bad field",
        503: "The database is unreachable; retry later",
    }.items()
}


def json_pointer(loc: Sequence[str | int]) -> str:
    """FastAPI's error location (`("body", "emails", 0)`) as an RFC 6901 pointer (`/emails/0`)."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped)


def _validation_problem(exc: RequestValidationError) -> ValidationFailed:
    errors = [
        {
            "pointer": json_pointer(err.get("loc", ())),
            "in": err.get("loc", ("body",))[0],
            "detail": err.get("msg", "invalid"),
            "code": err.get("type", "invalid"),
        }
        for err in exc.errors()
    ]
    return ValidationFailed("One or more fields are invalid.", errors=errors)


def _is_unavailable(exc: BaseException) -> bool:
    """True when the database could not be reached (not when a statement failed)."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    name = type(getattr(exc, "orig", exc)).__name__
    return name in {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "TooManyConnectionsError",
    }


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.document(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _status_problem(status: int, detail: str) -> Problem:
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionFailed,
        PreconditionRequired,
        PayloadTooLarge,
        RateLimited,
        ServiceUnavailable,
    ):
        if cls.status == status:
            return cls(detail) if cls is not Unauthorized else Unauthorized(detail)
    problem = Problem(detail)
    problem.status, problem.code, problem.title = status, f"http_{status}", detail
    return problem


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(_validation_problem(exc), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(_status_problem(exc.status_code, str(exc.detail)), request)

    async def on_integrity(request: Request, exc: Exception) -> JSONResponse:
        # A uniqueness or reference rule the service's own checks did not catch (e.g. a race).
        constraint = getattr(getattr(exc, "orig", None), "__cause__", None) or exc
        name = getattr(constraint, "constraint_name", None)
        problem = Conflict(
            "The change conflicts with existing data.", extra={"constraint": name} if name else None
        )
        return problem_response(problem, request)

    async def on_stale(request: Request, exc: Exception) -> JSONResponse:
        # Two edits from the same version raced past the If-Match check; this one lost.
        return problem_response(PreconditionFailed("The resource changed meanwhile."), request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _is_unavailable(exc):
            log.warning("dependency unavailable: %s", type(exc).__name__)
            return problem_response(ServiceUnavailable(headers={"Retry-After": "5"}), request)
        log.exception("unhandled error")
        return problem_response(Problem("An unexpected error occurred."), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(sa_exc.IntegrityError, on_integrity)
    # Hot paths that run SQL on the driver (crm_shared.db.driver_connection) raise its errors.
    app.add_exception_handler(asyncpg.IntegrityConstraintViolationError, on_integrity)
    app.add_exception_handler(StaleDataError, on_stale)
    app.add_exception_handler(Exception, on_unexpected)
