"""Long-running processes besides the API: the outbox relay and the consumers.

Each serves /healthz and /metrics on the worker port so Kubernetes can probe it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crm_shared.consumer import ConsumerRunner
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.logging import configure_logging
from crm_shared.relay import OutboxRelay
from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def _probe_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def run_workers(spec: ServiceSpec, settings: ServiceSettings, *, relay: bool,
                      consumer: bool) -> None:
    configure_logging(settings.service, settings.log_level)
    engine = create_engine(settings)
    stoppers = []
    tasks: list[Coroutine[Any, Any, None]] = []
    if relay:
        outbox_relay = OutboxRelay(settings, engine)
        stoppers.append(outbox_relay.stop)
        tasks.append(outbox_relay.run())
    if consumer and spec.subscription.handlers:
        runner = ConsumerRunner(settings, create_sessionmaker(engine), spec.subscription)
        stoppers.append(runner.stop)
        tasks.append(runner.run())
    probe = uvicorn.Server(uvicorn.Config(
        _probe_app(), host=settings.host, port=settings.worker_http_port, log_level="warning"
    ))
    probe.install_signal_handlers = lambda: None  # type: ignore[method-assign]

    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("stopping workers")
        for stopper in stoppers:
            stopper()
        probe.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    log.info("workers started: relay=%s consumer=%s", relay, bool(spec.subscription.handlers))
    try:
        if settings.worker_http_port:
            tasks.append(probe.serve())
        await asyncio.gather(*tasks)
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
