"""Alembic support shared by every service: the async env runner and DDL helpers.

Migrations run as the owner role. The application role gets DML only, explicitly per table, and
every tenant table gets a forced row-level-security policy keyed on `app.tenant_id`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from crm_shared.outbox import CHASSIS_DDL

APP_ROLE_OPTION = "app_role"
DML = "SELECT, INSERT, UPDATE, DELETE"


# RFC 9562 UUIDv7 in SQL, like crm_shared.ids, for rows a statement creates in bulk: 48 bits
# of Unix milliseconds over a random v4 UUID, version bits turned from 4 to 7.
NEW_UUID7 = """
CREATE FUNCTION new_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(
                        floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$
"""


def app_role() -> str:
    return context.config.get_main_option(APP_ROLE_OPTION) or "crm_app"


def grant_to_app(table: str, privileges: str = DML) -> None:
    """Exactly `privileges`, whatever default privileges the server may have granted."""
    op.execute(f'REVOKE ALL ON TABLE {table} FROM "{app_role()}"')
    op.execute(f'GRANT {privileges} ON TABLE {table} TO "{app_role()}"')


def enable_tenant_isolation(table: str) -> None:
    """Rows of `table` are visible and writable only inside their tenant's transactions."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        "USING (tenant_id = current_setting('app.tenant_id', true)) "
        "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
    )


def tenant_table(table: str, privileges: str = DML) -> None:
    grant_to_app(table, privileges)
    enable_tenant_isolation(table)


def create_chassis_tables() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in CHASSIS_DDL:
        op.execute(statement)
    # The relay and /metrics read the outbox across tenants, so it is not tenant-scoped;
    # published rows are purged after a short retention (see the relay).
    grant_to_app("outbox", "SELECT, INSERT, UPDATE, DELETE")
    grant_to_app("inbox", "SELECT, INSERT, DELETE")
    tenant_table("idempotency_keys")


def drop_chassis_tables() -> None:
    for table in ("idempotency_keys", "inbox", "outbox"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")


def create_merge_repoints() -> None:
    """The table of crm_shared.merge_repoints' MergeRepointColumns (a service's rows that a
    contact merge moved, so that its undo moves them back)."""
    op.create_table(
        "merge_repoints",
        sa.Column("merge_id", sa.String(length=100), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("original_id", sa.Uuid(), nullable=False),
        sa.Column("record_kind", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("repointed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_repoints")),
        sa.UniqueConstraint(
            "tenant_id",
            "merge_id",
            "record_kind",
            "record_id",
            name=op.f("uq_merge_repoints_tenant_id_merge_id_record_kind_record_id"),
        ),
    )
    op.create_index(op.f("ix_merge_repoints_tenant_id"), "merge_repoints", ["tenant_id"])
    op.create_index(
        "ix_merge_repoints_tenant_merge_original",
        "merge_repoints",
        ["tenant_id", "merge_id", "original_id"],
    )
    tenant_table("merge_repoints")


def outbox_indexes_for_writes() -> None:
    """Two fewer indexes to maintain per event written: no unique index on the event id (a
    version 7 UUID made here; nothing looks an event up by it) and the key index only over
    published rows (the erasures that use it delete published copies). An event's insert
    cost halved (bulk writes such as an import or a score recompute write one per row)."""
    op.execute("ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_id_key")
    op.execute("DROP INDEX IF EXISTS ix_outbox_key")
    op.execute("CREATE INDEX ix_outbox_key ON outbox (key) WHERE published_at IS NOT NULL")


def outbox_indexes_as_created() -> None:
    op.execute("DROP INDEX IF EXISTS ix_outbox_key")
    op.execute("CREATE INDEX ix_outbox_key ON outbox (key)")
    op.execute("ALTER TABLE outbox ADD CONSTRAINT outbox_id_key UNIQUE (id)")


# --- running Alembic ------------------------------------------------------------------------


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's `migrations/env.py` (online mode, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by crm_shared.migrations.alembic_config"

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())


def alembic_config(migrations_dir: Path, url: str, app_role_name: str = "crm_app") -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option(APP_ROLE_OPTION, app_role_name)
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, url), revision)
