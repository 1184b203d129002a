"""The FastAPI application every service builds: middleware, errors, health, metrics, deps."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_shared.auth import Principal, authenticate
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.errors import PROBLEM_RESPONSES, install_error_handlers
from crm_shared.examples import add_request_examples
from crm_shared.ids import uuid7
from crm_shared.kafka import broker_reachable
from crm_shared.logging import configure_logging, request_id_var, tenant_var
from crm_shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, REQUEST_LATENCY
from crm_shared.settings import ServiceSettings
from crm_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000


class RequestContextMiddleware:
    """Request id, JSON access log, latency histogram and a request-size cap, as raw ASGI
    (cheaper than BaseHTTPMiddleware on the hot path)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode()[:64] or str(uuid7())
        request_id_var.set(request_id)
        tenant_var.set(None)
        status = 500
        started = time.perf_counter()
        receive = _capped(receive, scope, int(headers.get(b"content-length", b"0") or 0))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUEST_LATENCY.labels(
                self.service, scope["method"], template, f"{status // 100}xx"
            ).observe(time.perf_counter() - started)


def _capped(receive: Receive, scope: Scope, declared: int) -> Receive:
    """The request body, refused (413) past MAX_BODY_BYTES, or past the route's own
    `max_body_size` for a route that streams uploads: whether its length was declared or
    not (a chunked body is counted as it arrives)."""
    received = 0

    async def receive_capped() -> Message:
        nonlocal received
        limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY, MAX_BODY_BYTES)
        if declared > limit:
            raise _too_large(limit)
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _too_large(limit)
        return message

    return receive_capped


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"This request's body is limited to {limit:,} bytes.")


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker reachable")
    async def readyz(request: Request) -> JSONResponse:
        checks = {
            "database": await _database_ok(request.app),
            "broker": await broker_reachable(request.app.state.settings),
        }
        ok = all(checks.values())
        body = {
            "status": "ready" if ok else "not_ready",
            "checks": {k: "ok" if v else "unreachable" for k, v in checks.items()},
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await _refresh_outbox_gauges(request.app)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _database_ok(app: FastAPI) -> bool:
    try:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _refresh_outbox_gauges(app: FastAPI) -> None:
    service = app.state.settings.service
    try:
        async with app.state.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*) AS backlog, coalesce(extract(epoch FROM "
                        "clock_timestamp() - min(created_at)), 0) AS age "
                        "FROM outbox WHERE published_at IS NULL"
                    )
                )
            ).one()
        OUTBOX_BACKLOG.labels(service).set(row.backlog)
        OUTBOX_OLDEST_AGE.labels(service).set(float(row.age))
    except Exception as exc:  # metrics must render even when the database is down
        log.warning("outbox gauges not refreshed: %s", type(exc).__name__)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    version: str = "1.0.0",
    on_startup: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    configure_logging(settings.service, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        if on_startup is not None:
            await on_startup(app)
        yield
        await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        root_path=settings.root_path,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    app.openapi = lambda: _openapi_with_problems(app)  # type: ignore[method-assign]
    return app


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Retries with the same key return the first response; another body is 422.",
}


def _operation_id(route: APIRoute) -> str:
    """Stable, readable operation ids for generated clients: `people_create_person`."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def _openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """Errors are `application/problem+json`, and FastAPI's own 422 schema is not ours."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema.get("paths", {}).values():
            for method, operation in path.items():
                if method == "post" and "201" in operation.get("responses", {}):
                    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[0] in "45" and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
        add_request_examples(schema)
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


async def unit_of_work(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> UnitOfWork:
    """Dependency: a unit of work scoped to the caller's tenant (not yet begun)."""
    return UnitOfWork(
        request.app.state.sessionmaker,
        tenant_id=principal.tenant_id,
        actor=principal.sub,
        source=request.app.state.settings.source,
        traceparent=request.headers.get("traceparent"),
    )


UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
CurrentUser = Annotated[Principal, Depends(authenticate)]
