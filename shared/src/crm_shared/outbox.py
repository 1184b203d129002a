"""Transactional outbox: events are rows written in the business transaction.

The relay (`crm_shared.relay`) publishes them afterwards. Each row carries a `lane` derived from
its key: a relay replica works on a lane only while holding that lane's advisory lock, so rows
with the same key are published by one replica at a time, in `seq` order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import driver_connection
from crm_shared.events.envelope import Envelope, dumps

LANES = 16

INSERT_OUTBOX = """
    INSERT INTO outbox (id, tenant_id, topic, key, type, source, subject, time, traceparent, data)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
"""


def outbox_row(envelope: Envelope) -> tuple[object, ...]:
    return (
        uuid.UUID(envelope.id),
        envelope.tenant_id,
        envelope.topic,
        envelope.key,
        envelope.type,
        envelope.source,
        envelope.subject,
        envelope.time,
        envelope.traceparent,
        dumps(envelope.data).decode(),
    )


async def write_outbox(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """One statement for the unit of work's events, on the driver connection (hot path)."""
    connection = await driver_connection(session)
    rows = [outbox_row(e) for e in envelopes]
    if len(rows) == 1:
        await connection.execute(INSERT_OUTBOX, *rows[0])
    else:
        await connection.executemany(INSERT_OUTBOX, rows)


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
