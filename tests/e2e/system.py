"""The whole system as separate processes: every service's API and worker, and the ERP bridge.

Each process gets its own ports (1810x API, 1820x worker probe), the service's test database
and a consumer group of its own. Before any worker starts, each new consumer group's offsets
are committed at the topics' current ends, so a worker sees exactly the events produced after
the system came up: nothing older, and nothing lost while it was still joining its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from crm_shared.events.catalog import OPPORTUNITIES
from crm_shared.service import get_service
from tests.conftest import _REBUILT, TEST_KAFKA, rebuild_database, settings_for_tests

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("contacts", "opportunities", "campaigns", "tickets", "analytics")
BOOTSTRAP = TEST_KAFKA
BRIDGE_GROUP = f"e2e-erp-bridge-{uuid.uuid4().hex[:8]}"  # its own group and transactional id


def api_port(service: str) -> int:
    return 18101 + SERVICES.index(service)


def worker_port(service: str) -> int:
    return 18201 + SERVICES.index(service)


def base_url(service: str) -> str:
    return f"http://127.0.0.1:{api_port(service)}"


@dataclass
class Process:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


def _terminate(processes: list[Process], grace_s: float = 10.0) -> None:
    """SIGTERM every process we started, then SIGKILL whatever is still running."""
    for p in processes:
        if p.alive() and p.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                p.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in processes:
        if p.popen is None:
            continue
        try:
            p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                p.popen.kill()
            p.popen.wait(timeout=10)


@dataclass
class System:
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    processes: list[Process] = field(default_factory=list)

    @property
    def ledger(self) -> Path:
        return self.workdir / "erp-ledger.jsonl"

    def group(self, service: str) -> str:
        return f"e2e-{service}-{self.run_id}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for service in SERVICES:
            p, db = service.upper(), settings_for_tests(service)
            env |= {
                f"{p}_PORT": str(api_port(service)),
                f"{p}_HOST": "127.0.0.1",
                f"{p}_WORKER_HTTP_PORT": str(worker_port(service)),
                f"{p}_DATABASE_URL": db.database_url,  # the test databases, as tests/conftest.py
                f"{p}_MIGRATION_DATABASE_URL": db.migration_database_url,
                f"{p}_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
                f"{p}_KAFKA_GROUP_ID": self.group(service),
                f"{p}_KAFKA_AUTO_OFFSET_RESET": "latest",
                f"{p}_RELAY_POLL_INTERVAL_S": "0.2",
                f"{p}_CONSUMER_RETRY_BACKOFF_S": "0.05",
                f"{p}_LOG_LEVEL": "INFO",
            }
        env |= {
            "OPPORTUNITIES_CONTACTS_URL": base_url("contacts"),
            "TICKETS_CONTACTS_URL": base_url("contacts"),
            "CAMPAIGNS_OPPORTUNITIES_URL": base_url("opportunities"),
            "ANALYTICS_SCORES_INTERVAL_S": "1",
            "TICKETS_SLA_SCAN_INTERVAL_S": "1",
            "PYTHONUNBUFFERED": "1",
        }
        return env

    async def prepare(self) -> None:
        """Migrate the test databases (unless this session did already) and pin every consumer
        group of this run to the current end of its topics."""
        for port in [*map(api_port, SERVICES), *map(worker_port, SERVICES)]:
            with socket.socket() as probe:
                busy = probe.connect_ex(("127.0.0.1", port)) == 0
            assert not busy, f"port {port} is taken: is another e2e run (or a leftover) running?"
        for service in SERVICES:
            if service not in _REBUILT:
                await rebuild_database(get_service(service), settings_for_tests(service))
                _REBUILT.add(service)
        groups = {self.group(s): get_service(s).subscription.topics for s in SERVICES}
        groups[BRIDGE_GROUP] = (OPPORTUNITIES,)
        for group, topics in groups.items():
            if topics:
                await _pin_group(group, topics)

    def start(self) -> None:
        env = self.env()
        crm = str(Path(sys.executable).parent / "crm")
        for service in SERVICES:
            for kind in ("api", "worker"):
                self.processes.append(
                    Process(
                        f"{service}-{kind}",
                        [crm, "run", service, kind],
                        self.workdir / f"{service}-{kind}.log",
                    )
                )
        self.processes.append(
            Process(
                "erp-bridge",
                [
                    sys.executable,
                    "-m",
                    "examples.erp_bridge",
                    "run",
                    "--ledger",
                    str(self.ledger),
                    "--group",
                    BRIDGE_GROUP,
                    "--bootstrap",
                    BOOTSTRAP,
                ],
                self.workdir / "erp-bridge.log",
            )
        )
        for p in self.processes:
            p.start(env)

    async def wait_healthy(self, timeout_s: float = 90.0) -> None:
        urls = [f"{base_url(s)}/healthz" for s in SERVICES]
        urls += [f"http://127.0.0.1:{worker_port(s)}/healthz" for s in SERVICES]
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as http:
            for url in urls:
                while True:
                    dead = [p.name for p in self.processes if not p.alive()]
                    assert not dead, f"processes exited early: {dead}"
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(url)).status_code == 200:
                            break
                    assert time.monotonic() < deadline, f"{url} not healthy in {timeout_s}s"
                    await asyncio.sleep(0.2)

    def stop(self) -> None:
        _terminate(self.processes)

    def dead(self) -> list[str]:
        return [p.name for p in self.processes if not p.alive()]

    def logs(self, lines: int = 40) -> str:
        return "\n".join(
            f"----- {p.name} (last {lines} lines) -----\n{p.tail(lines)}" for p in self.processes
        )


async def _pin_group(group: str, topics: tuple[str, ...], timeout_s: float = 60.0) -> None:
    """Commit the topics' end offsets for `group`. Kafka refuses while the group still has
    members (a bridge killed before it could leave stays a member until its session expires),
    so retry for a while."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await _commit_end_offsets(group, topics)
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


async def _commit_end_offsets(group: str, topics: tuple[str, ...]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps: list[TopicPartition] = []
        for topic in topics:
            partitions = await _partitions(consumer, topic)
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        await consumer._client.force_metadata_update()
    raise AssertionError(f"topic {topic} has no partitions (run `crm topics ensure`)")
