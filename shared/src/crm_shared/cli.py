"""`crm`: one command line for running, migrating and poking at the services."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import typer

from crm_shared import apidocs
from crm_shared.auth import mint_token
from crm_shared.events.catalog import TOPICS, dlq_topic
from crm_shared.migrations import alembic_config
from crm_shared.service import ServiceSpec, get_service, load_services

app = typer.Typer(help="CRM backend command line.", no_args_is_help=True)
events = typer.Typer(help="Look at the event stream.", no_args_is_help=True)
topics = typer.Typer(help="Kafka topics of the event catalog.", no_args_is_help=True)
docs = typer.Typer(
    help="OpenAPI / AsyncAPI documents kept in the repository.", no_args_is_help=True
)
app.add_typer(events, name="events")
app.add_typer(topics, name="topics")
app.add_typer(docs, name="docs")

PROCESSES = ("api", "relay", "consumer", "worker")
COMMANDS_ENTRY_POINT_GROUP = "crm.commands"


def _services(name: str | None) -> list[ServiceSpec]:
    try:
        return [get_service(name)] if name else load_services()
    except KeyError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def run(
    service: Annotated[str, typer.Argument(help="contacts, opportunities, ...")],
    process: Annotated[
        str, typer.Argument(help="api | relay | consumer | worker (relay+consumer)")
    ],
) -> None:
    """Run one process of a service in the foreground."""
    if process not in PROCESSES:
        raise typer.BadParameter(f"process must be one of {', '.join(PROCESSES)}")
    spec = _services(service)[0]
    settings = spec.settings()
    if process == "api":
        import uvicorn

        uvicorn.run(
            spec.create_app(settings),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_config=None,
        )
        return
    from crm_shared.worker import run_workers

    asyncio.run(
        run_workers(
            spec,
            settings,
            relay=process in {"relay", "worker"},
            consumer=process in {"consumer", "worker"},
        )
    )


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument()] = None,
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
    down: Annotated[bool, typer.Option("--down", help="downgrade to --revision")] = False,
) -> None:
    """Apply database migrations (as the owner role) for one service or all."""
    from alembic import command

    for spec in _services(service):
        settings = spec.settings()
        config = alembic_config(spec.migrations, settings.migration_database_url, settings.app_role)
        typer.echo(f"migrating {spec.name} {'down' if down else 'up'} to {revision}")
        (command.downgrade if down else command.upgrade)(config, revision)


@topics.command("ensure")
def topics_ensure(
    partitions: Annotated[int, typer.Option(envvar="CRM_TOPIC_PARTITIONS")] = 6,
    replication: Annotated[int, typer.Option(envvar="CRM_TOPIC_REPLICATION")] = 1,
) -> None:
    """Create every catalog topic and its DLQ if missing."""
    from crm_shared.kafka import ensure_topics

    settings = load_services()[0].settings()
    wanted = [name for topic in TOPICS for name in (topic, dlq_topic(topic))]
    created = asyncio.run(
        ensure_topics(settings, wanted, partitions=partitions, replication=replication)
    )
    typer.echo(f"topics: {len(wanted)} wanted, created {created or 'none'}")


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="tenant id (tid claim)")],
    roles: Annotated[str, typer.Option(help="comma-separated roles")] = "admin",
    sub: Annotated[str, typer.Option(help="user id (sub claim)")] = "dev-user",
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
) -> None:
    """Print a dev JWT signed with the configured HS256 secret."""
    settings = load_services()[0].settings()
    typer.echo(mint_token(settings, tenant=tenant, roles=roles.split(","), sub=sub, ttl_s=ttl))


@events.command("tail")
def events_tail(
    topic: str,
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    limit: Annotated[int, typer.Option(help="stop after N events (0 = never)")] = 0,
) -> None:
    """Print CloudEvents from TOPIC as they arrive (one JSON object per line)."""
    asyncio.run(_tail(topic, from_beginning, limit))


async def _tail(topic: str, from_beginning: bool, limit: int) -> None:
    from crm_shared.kafka import new_consumer

    settings = load_services()[0].settings()
    consumer = new_consumer(
        settings, topic, group_id=None, auto_offset_reset="earliest" if from_beginning else "latest"
    )
    await consumer.start()
    seen = 0
    try:
        async for record in consumer:
            headers = {k: v.decode(errors="replace") for k, v in record.headers}
            line = {
                "partition": record.partition,
                "offset": record.offset,
                "key": record.key.decode() if record.key else None,
                "headers": headers,
                "data": orjson.loads(record.value) if record.value else None,
            }
            typer.echo(orjson.dumps(line).decode())
            seen += 1
            if limit and seen >= limit:
                break
    finally:
        await consumer.stop()


@docs.command("export")
def docs_export(root: Path = Path(".")) -> None:
    """Write docs/openapi/<service>.json and docs/asyncapi.json from the code."""
    for path in apidocs.export(root):
        typer.echo(f"wrote {path}")


@app.command()
def dev(service: Annotated[str | None, typer.Argument()] = None) -> None:
    """Run every service's API and workers, logs to this terminal; Ctrl-C stops them all."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    children = [
        _spawn(spec, process) for spec in _services(service) for process in ("api", "worker")
    ]
    for spec in _services(service):
        typer.echo(f"{spec.name}: http://127.0.0.1:{spec.port}/docs")
    while not stop.is_set() and all(proc.poll() is None for _, proc in children):
        stop.wait(0.5)
    for name, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        else:
            typer.echo(f"{name} stopped unexpectedly ({proc.returncode})")
    for name, proc in children:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        typer.echo(f"{name} exited ({proc.returncode})")


def _spawn(spec: ServiceSpec, process: str) -> tuple[str, subprocess.Popen[bytes]]:
    # Each worker gets its own probe port (API port + 1000) so they can share the machine.
    env = os.environ | {f"{spec.name.upper()}_WORKER_HTTP_PORT": str(spec.port + 1000)}
    proc = subprocess.Popen(
        [sys.argv[0], "run", spec.name, process],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # signals come from us, not the terminal
    name = f"{spec.name}-{process}"
    threading.Thread(target=_pump, args=(name, proc), daemon=True).start()
    typer.echo(f"started {name} (pid {proc.pid})")
    return name, proc


@app.command()
def seed(
    customers: Annotated[int, typer.Option(help="how many customers (people)")] = 100,
    tenant: Annotated[str, typer.Option(help="tenant to fill")] = "demo",
    companies: Annotated[int, typer.Option(help="companies they work at (default N/5)")] = 0,
) -> None:
    """Fill a tenant with realistic data through the running services' APIs (`make dev`)."""
    asyncio.run(_seed(customers, tenant, companies or max(1, customers // 5)))


async def _seed(customers: int, tenant: str, companies: int) -> None:
    from rich.progress import Progress

    from crm_shared.kafka import new_producer
    from crm_shared.seed import Seeder, kafka_publisher

    specs = {spec.name: spec for spec in load_services()}
    token = mint_token(specs["contacts"].settings(), tenant=tenant, roles=["admin"], sub="seed")
    clients = {
        name: httpx.AsyncClient(
            base_url=f"http://{spec.settings().host}:{spec.settings().port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        for name, spec in specs.items()
    }
    producer = new_producer(specs["contacts"].settings())
    await producer.start()
    seeder = Seeder(clients, tenant, kafka_publisher(producer))
    try:
        with Progress() as progress:
            task = progress.add_task(f"seeding {tenant}", total=customers + companies)
            company_ids, pipeline, stages = await seeder.prepare(companies)
            progress.advance(task, companies)
            for number in range(customers):
                await seeder.customer(number, company_ids, pipeline, stages)
                progress.advance(task)
    finally:
        await producer.stop()
        for client in clients.values():
            await client.aclose()
    typer.echo(str(seeder.report))


def _pump(name: str, proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(f"{name:24} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def _mount_service_commands() -> None:
    """Services add their own commands through the `crm.commands` entry point group: a Typer
    app becomes a group (`crm analytics rebuild`), a function a command (`crm import`)."""
    for ep in entry_points(group=COMMANDS_ENTRY_POINT_GROUP):
        command = ep.load()
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=ep.name)
        else:
            app.command(name=ep.name)(command)


_mount_service_commands()

if __name__ == "__main__":
    app()
