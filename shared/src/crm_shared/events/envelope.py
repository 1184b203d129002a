"""CloudEvents 1.0 in Kafka binary mode.

Attributes travel as `ce_*` headers (plus the `ce_tenantid` extension and W3C `traceparent`),
the event data is the JSON value, and the key is the customer id when the event concerns one,
so that every event about a customer lands on one partition, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import orjson
from pydantic import BaseModel, ConfigDict

from crm_shared.ids import uuid7

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class EventData(BaseModel):
    """Base of every catalog entry. Subclasses set `type`, `topic` and `key_field`."""

    model_config = ConfigDict(extra="allow")  # additive evolution: newer producers may add fields

    type: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str]
    description: ClassVar[str] = ""

    tenant_id: str

    def partition_key(self) -> str:
        return str(getattr(self, self.key_field))


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default)


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    topic: str
    key: str
    tenant_id: str
    data: dict[str, Any]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    traceparent: str | None = None

    @classmethod
    def wrap(
        cls,
        data: EventData,
        *,
        source: str,
        subject: str | None = None,
        traceparent: str | None = None,
    ) -> Self:
        key = data.partition_key()
        return cls(
            id=str(uuid7()),
            type=data.type,
            source=source,
            topic=data.topic,
            key=key,
            tenant_id=data.tenant_id,
            data=data.model_dump(mode="json"),
            subject=subject or key,
            traceparent=traceparent,
        )

    def headers(self) -> list[tuple[str, bytes]]:
        pairs = [
            ("ce_specversion", SPEC_VERSION),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_time", self.time.isoformat().replace("+00:00", "Z")),
            ("ce_tenantid", self.tenant_id),
            ("content-type", CONTENT_TYPE),
        ]
        if self.subject:
            pairs.append(("ce_subject", self.subject))
        if self.traceparent:
            pairs.append(("traceparent", self.traceparent))
        return [(k, v.encode()) for k, v in pairs]


class MalformedEvent(ValueError):
    """A record that is not a CloudEvent we can read: it goes to the DLQ without retries."""


@dataclass(frozen=True)
class InboundEvent:
    """A CloudEvent as a consumer sees it."""

    id: str
    type: str
    source: str
    tenant_id: str
    time: datetime
    data: dict[str, Any]
    subject: str | None
    key: str | None
    topic: str
    partition: int
    offset: int

    @classmethod
    def from_record(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...],
    ) -> InboundEvent:
        attrs = {k: v.decode(errors="replace") for k, v in headers}
        missing = [a for a in ("ce_id", "ce_type", "ce_source", "ce_tenantid") if not attrs.get(a)]
        if missing:
            raise MalformedEvent(f"missing CloudEvents headers: {', '.join(missing)}")
        try:
            data = orjson.loads(value or b"null")
            time = datetime.fromisoformat(attrs.get("ce_time") or datetime.now(UTC).isoformat())
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise MalformedEvent(str(exc)) from exc
        if not isinstance(data, dict):
            raise MalformedEvent("event data must be a JSON object")
        return cls(
            id=attrs["ce_id"],
            type=attrs["ce_type"],
            source=attrs["ce_source"],
            tenant_id=attrs["ce_tenantid"],
            time=time,
            data=data,
            subject=attrs.get("ce_subject"),
            key=key.decode() if key else None,
            topic=topic,
            partition=partition,
            offset=offset,
        )
