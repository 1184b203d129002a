"""Kafka clients configured from service settings (plaintext locally, SASL/TLS in clusters)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from crm_shared.settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    return options


def new_producer(settings: ServiceSettings, **overrides: Any) -> AIOKafkaProducer:
    """Idempotent producer (acks=all): a retried send never duplicates or reorders a key."""
    options = client_options(settings) | {
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "request_timeout_ms": 15000,
        "client_id": f"crm-{settings.service}",
    }
    return AIOKafkaProducer(**(options | overrides))


def new_consumer(settings: ServiceSettings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    options = client_options(settings) | {
        "group_id": settings.consumer_group,
        "enable_auto_commit": False,
        "auto_offset_reset": settings.kafka_auto_offset_reset,
        "isolation_level": "read_committed",
        "client_id": f"crm-{settings.service}",
    }
    return AIOKafkaConsumer(*topics, **(options | overrides))


async def ensure_topics(
    settings: ServiceSettings, topics: list[str], *, partitions: int, replication: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [
                NewTopic(t, num_partitions=partitions, replication_factor=replication)
                for t in missing
            ]
            # Another process may win the race; the topic exists either way.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        return missing
    finally:
        await admin.close()


async def broker_reachable(settings: ServiceSettings, timeout: float = 1.0) -> bool:
    """A cheap readiness probe: can we open a TCP connection to a bootstrap server?"""
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False
