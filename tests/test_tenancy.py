"""Every business table of every service is tenant-scoped by row-level security; the few that
are not are named here, with the reason, so a new table cannot slip through unnoticed."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import running_app

CHASSIS = {"alembic_version", "inbox", "outbox"}  # read across tenants by relay and consumers
CROSS_TENANT_JOBS = {  # ids and times only; background jobs claim work across tenants
    "contacts": {"import_queue", "change_feed_horizon"},
    "campaigns": {"send_jobs"},
    "tickets": {"sla_timers", "sla_emissions"},
    "analytics": {"score_schedule"},
}
UNSCOPED = """
    SELECT relname FROM pg_class
    WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
      AND NOT (relrowsecurity AND relforcerowsecurity)
"""


@pytest.mark.parametrize(
    "service", ["contacts", "opportunities", "campaigns", "tickets", "analytics"]
)
async def test_only_the_named_tables_escape_row_level_security(service: str) -> None:
    async with running_app(service) as app:
        dsn = app.state.settings.migration_database_url.replace("+asyncpg", "")
        conn = await asyncpg.connect(dsn)
        try:
            unscoped = {row["relname"] for row in await conn.fetch(UNSCOPED)}
        finally:
            await conn.close()
    assert unscoped == CHASSIS | CROSS_TENANT_JOBS.get(service, set())
