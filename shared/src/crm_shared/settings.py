"""Service settings: one pydantic-settings class, read with a per-service environment prefix.

`CONTACTS_DATABASE_URL`, `TICKETS_KAFKA_BOOTSTRAP_SERVERS`, ... Defaults fit the local
infrastructure that `make infra-up` starts, so a fresh checkout runs without any configuration.
A service with settings of its own subclasses ServiceSettings and names the subclass in its
ServiceSpec (`settings_class`): its fields are read with the same prefix.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_PG = "postgresql+asyncpg://{role}:{role}@127.0.0.1:5432/crm_{service}"
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # >= 32 bytes for HS256


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service: str
    port: int
    host: str = "127.0.0.1"
    root_path: str = ""  # behind a path-prefix ingress, e.g. /contacts
    app_role: str = "crm_app"
    database_url: str = ""
    migration_database_url: str = ""
    # Connections kept open per process. Overflow connections are closed when returned, so a
    # burst past the pool would open and close one per request: keep the pool, not overflow.
    db_pool_size: int = 20
    db_max_overflow: int = 0

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None
    kafka_group_id: str | None = None  # default crm-<service>
    kafka_auto_offset_reset: str = "earliest"  # where a new consumer group starts

    jwt_secret: str | None = DEV_JWT_SECRET
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    log_level: str = "INFO"
    worker_http_port: int = 9000
    relay_batch_size: int = 500
    relay_poll_interval_s: float = 1.0
    consumer_max_retries: int = 3
    consumer_retry_backoff_s: float = 0.2
    outbox_retention_s: int = 3600

    @model_validator(mode="before")
    @classmethod
    def _local_database_defaults(cls, values: dict[str, Any]) -> dict[str, Any]:
        service = values.get("service", "")
        if not values.get("database_url"):
            values["database_url"] = LOCAL_PG.format(role="crm_app", service=service)
        if not values.get("migration_database_url"):
            values["migration_database_url"] = LOCAL_PG.format(role="crm_owner", service=service)
        return values

    @property
    def source(self) -> str:
        """CloudEvents `source` of everything this service publishes."""
        return f"/crm/{self.service}"

    @property
    def consumer_group(self) -> str:
        return self.kafka_group_id or f"crm-{self.service}"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(
    service: str,
    port: int,
    settings_class: type[ServiceSettings] = ServiceSettings,
    **overrides: Any,
) -> ServiceSettings:
    """Settings for `service` from `<SERVICE>_*` environment variables, then `overrides`.
    `port` is the service's default port; `<SERVICE>_PORT` wins over it."""
    prefix = f"{service.upper()}_"
    defaults: dict[str, Any] = {"service": service}
    if f"{prefix}PORT" not in os.environ:
        defaults["port"] = port
    return settings_class(_env_prefix=prefix, **(defaults | overrides))


def settings_of(settings: ServiceSettings, settings_class: type[S]) -> S:
    """`settings` as the service's own subclass (what its spec loads), for typed access."""
    if not isinstance(settings, settings_class):
        raise TypeError(f"expected {settings_class.__name__}, got {type(settings).__name__}")
    return settings
