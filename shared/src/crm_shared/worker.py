"""Long-running processes besides the API: the outbox relay and the consumers.

Each serves /healthz and /metrics on the worker port so Kubernetes can probe it; a few lines of
asyncio are enough for that and keep signal handling in our hands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crm_shared.consumer import ConsumerRunner
from crm_shared.db import create_engine, create_sessionmaker
from crm_shared.logging import configure_logging
from crm_shared.relay import OutboxRelay
from crm_shared.service import ServiceSpec
from crm_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


async def _answer_probe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request_line = await asyncio.wait_for(reader.readline(), 5)
        while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
            pass  # headers are not needed
    except TimeoutError:
        writer.close()
        return
    parts = request_line.split()
    path = parts[1] if len(parts) > 1 else b""
    if path == b"/healthz":
        status, media, body = "200 OK", "application/json", b'{"status":"ok"}'
    elif path == b"/metrics":
        status, media, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
    else:
        status, media, body = "404 Not Found", "application/json", b'{"status":"not found"}'
    head = f"HTTP/1.1 {status}\r\nContent-Type: {media}\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def serve_probe(host: str, port: int, stopping: asyncio.Event) -> None:
    server = await asyncio.start_server(_answer_probe, host, port)
    async with server:
        await stopping.wait()


async def run_workers(
    spec: ServiceSpec, settings: ServiceSettings, *, relay: bool, consumer: bool
) -> None:
    configure_logging(settings.service, settings.log_level)
    engine = create_engine(settings)
    stopping = asyncio.Event()
    stoppers: list[Callable[[], None]] = [stopping.set]
    tasks: list[Awaitable[None]] = []
    if relay:
        outbox_relay = OutboxRelay(settings, engine)
        stoppers.append(outbox_relay.stop)
        tasks.append(outbox_relay.run())
    if consumer and spec.subscription.handlers:
        runner = ConsumerRunner(settings, create_sessionmaker(engine), spec.subscription)
        stoppers.append(runner.stop)
        tasks.append(runner.run())
    if consumer:
        sessionmaker = create_sessionmaker(engine)
        tasks += [job(settings, sessionmaker, stopping) for job in spec.jobs]
    if settings.worker_http_port:
        tasks.append(serve_probe(settings.host, settings.worker_http_port, stopping))

    def stop() -> None:
        log.info("stopping workers")
        for stopper in stoppers:
            stopper()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    log.info(
        "workers started: relay=%s consumer=%s jobs=%d",
        relay,
        bool(consumer and spec.subscription.handlers),
        len(spec.jobs) if consumer else 0,
    )
    try:
        await asyncio.gather(*tasks)
    finally:
        await engine.dispose()
