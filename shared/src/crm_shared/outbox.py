"""Transactional outbox: events are rows written in the business transaction.

The relay (`crm_shared.relay`) publishes them afterwards. Each row carries a `lane` derived from
its key: a relay replica works on a lane only while holding that lane's advisory lock, so rows
with the same key are published by one replica at a time, in `seq` order.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.events.envelope import Envelope, dumps

LANES = 16

INSERT_OUTBOX = text(
    """
    INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, traceparent, data)
    VALUES (:id, :tenant_id, :topic, :key, :type, :source, :subject, :time, :traceparent,
            CAST(:data AS jsonb))
    """
)


def outbox_params(envelope: Envelope) -> dict[str, object]:
    return {
        "id": envelope.id,
        "tenant_id": envelope.tenant_id,
        "topic": envelope.topic,
        "key": envelope.key,
        "type": envelope.type,
        "source": envelope.source,
        "subject": envelope.subject,
        "time": envelope.time,
        "traceparent": envelope.traceparent,
        "data": dumps(envelope.data).decode(),
    }


async def write_outbox(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    await session.execute(INSERT_OUTBOX, [outbox_params(e) for e in envelopes])


# DDL for the chassis tables every service database has; run from each service's first migration.
CHASSIS_DDL = [
    f"""
    CREATE TABLE outbox (
        seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id           uuid NOT NULL UNIQUE,
        tenant_id    text NOT NULL,
        topic        text NOT NULL,
        key          text NOT NULL,
        lane         smallint GENERATED ALWAYS AS (abs(hashtext(key) % {LANES})) STORED,
        type         text NOT NULL,
        source       text NOT NULL,
        subject      text,
        time         timestamptz NOT NULL,
        traceparent  text,
        data         jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at timestamptz
    )
    """,
    "CREATE INDEX ix_outbox_unpublished ON outbox (lane, seq) WHERE published_at IS NULL",
    "CREATE INDEX ix_outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL",
    "CREATE INDEX ix_outbox_key ON outbox (key)",
    # Wake the relay at commit time without an extra round trip from the application.
    """
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$
    """,
    """
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
    """,
    """
    CREATE TABLE inbox (
        consumer     text NOT NULL,
        event_id     text NOT NULL,
        topic        text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
    )
    """,
    """
    CREATE TABLE idempotency_keys (
        tenant_id    text NOT NULL,
        key          text NOT NULL,
        request_hash text NOT NULL,
        status_code  smallint NOT NULL,
        body         jsonb NOT NULL,
        headers      jsonb NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, key)
    )
    """,
]
