"""How a service describes itself to the chassis: the `crm` CLI, the dev runner, the docs
exporters and the Kubernetes policy tests all read these specs (entry point `crm.services`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_shared.consumer import Subscription
from crm_shared.events.catalog import dlq_topic, produced_topics
from crm_shared.settings import ServiceSettings, load_settings

ENTRY_POINT_GROUP = "crm.services"

# A periodic or long-running job (a scheduler, a sender): runs in the service's consumer and
# worker processes until `stopping` is set.
BackgroundJob = Callable[
    [ServiceSettings, async_sessionmaker[AsyncSession], asyncio.Event], Awaitable[None]
]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    title: str
    create_app: Callable[[ServiceSettings], FastAPI]
    migrations: Path
    subscription: Subscription = field(default_factory=Subscription)
    jobs: tuple[BackgroundJob, ...] = ()
    settings_class: type[ServiceSettings] = ServiceSettings

    def settings(self, **overrides: Any) -> ServiceSettings:
        return load_settings(self.name, self.port, self.settings_class, **overrides)

    @property
    def produces(self) -> tuple[str, ...]:
        """Topics its relay publishes to (its consumers also write to the DLQs of `consumes`)."""
        return produced_topics(self.name)

    @property
    def consumes(self) -> tuple[str, ...]:
        return self.subscription.topics

    @property
    def dead_letter_topics(self) -> tuple[str, ...]:
        return tuple(dlq_topic(t) for t in self.consumes)

    @property
    def consumer_group(self) -> str:
        return f"crm-{self.name}"


def load_services() -> list[ServiceSpec]:
    """Every installed service, in port order."""
    specs = [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted((s for s in specs if isinstance(s, ServiceSpec)), key=lambda s: s.port)


def get_service(name: str) -> ServiceSpec:
    """One service's spec, loading only its own entry point."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        spec = ep.load()
        if isinstance(spec, ServiceSpec):
            return spec
    known = ", ".join(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)) or "none"
    raise KeyError(f"unknown service {name!r} (installed: {known})")
