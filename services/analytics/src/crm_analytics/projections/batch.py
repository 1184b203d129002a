"""Per-transaction state that makes a consumer batch cheap.

The consumer runner applies a fetched batch in one transaction, calling the handlers one
event at a time. Writes that no handler reads back (timeline entries, orders, invoices,
contracts, CSAT, surveys, campaign touches) are buffered here and written before the commit
(`write_buffered`, the subscription's before_commit step): each table's rows travel in one
binary COPY into a temporary staging table of the connection (row-level security refuses COPY
into the tables themselves, and upserts need ON CONFLICT), then one
INSERT ... SELECT ... ON CONFLICT per tenant and set of columns to update moves them into the
table, all of them sent as one script. COPY is what costs least per row on both ends (bound
arrays cost the client a type check per element and the server an unnest), and a write takes
two round trips per table and two more, however many tenants. Successive upserts of one
row are merged first, with the same result as running them in order. Anything that reads or
moves those rows (merges, unmerges, erasure) writes the buffer first. Alias and erasure
look-ups are remembered for the rest of the transaction. The state lives in the session's
`info`, so a failed batch (whose session is rolled back and discarded) leaves nothing behind,
and its staged rows are rolled back with it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table

from crm_analytics.database import Base
from crm_shared.uow import SET_TENANT, UnitOfWork

GROUP = "staging_group"  # the staging tables' extra column: which INSERT takes the row


@dataclass
class Pending:
    """One row's merged upserts: the values to insert and the columns to update on conflict."""

    values: dict[str, Any]
    update_cols: list[str]


@dataclass
class BatchState:
    # (tenant, table) -> primary key -> pending upsert, in arrival order
    pending: dict[tuple[str, str], dict[tuple[Any, ...], Pending]] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    # per tenant, every alias (alias -> survivor) when there are few enough to load at once
    alias_maps: dict[str, dict[str, str] | None] = field(default_factory=dict)
    # per tenant, every erased person when there are few enough to load at once
    erased: dict[str, set[str] | None] = field(default_factory=dict)
    recompute_requested: set[str] = field(default_factory=set)
    # staged rows stay until the commit: each write numbers its groups after the last one's
    groups: int = 0


def state(uow: UnitOfWork) -> BatchState:
    """This transaction's state, kept in its session's `info` (a session per unit of work)."""
    info = uow.session.info
    found = info.get(BatchState)
    if found is None:
        found = info[BatchState] = BatchState()
    return cast(BatchState, found)


def forget_people(uow: UnitOfWork) -> None:
    """Aliases or erasures changed in this transaction: look them up afresh."""
    found = state(uow)
    found.aliases.clear()
    found.alias_maps.clear()
    found.erased.clear()


def buffer_upsert(
    uow: UnitOfWork, model: type[Base], values: dict[str, Any], update_cols: list[str]
) -> None:
    """Queue `INSERT values ON CONFLICT (pk) DO UPDATE SET update_cols` (nothing when empty).
    Columns not given are inserted as NULL (the buffered tables have no column defaults)."""
    table = cast(Table, model.__table__)
    batch = state(uow)
    batch.tables[table.name] = table
    keys = _key_of(table)(values)
    rows = batch.pending.setdefault((uow.tenant_id, table.name), {})
    earlier = rows.get(keys)
    if earlier is None:
        rows[keys] = Pending(values, update_cols)
        return
    # in order: the earlier insert (or update) then this update; missing columns filled in
    for column in update_cols:
        earlier.values[column] = values[column]
    for column, value in values.items():
        earlier.values.setdefault(column, value)
    earlier.update_cols = earlier.update_cols + [
        c for c in update_cols if c not in earlier.update_cols
    ]


@functools.cache
def key_names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


@functools.cache
def _key_of(table: Table) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The primary key's values of a row (every key has two columns or more, with the tenant)."""
    return operator.itemgetter(*key_names(table))


@functools.cache
def column_names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns)


def _staging(table: Table) -> str:
    return f"staging_{table.name}"


@functools.cache
def _create_staging_sql(table: Table) -> str:
    """The table's columns (without constraints) plus the group; emptied at every commit.
    Created in the transaction that first needs it, so a rollback may take it away again:
    hence IF NOT EXISTS on every write rather than remembering it per connection."""
    return (
        f'CREATE TEMP TABLE IF NOT EXISTS "{_staging(table)}" ON COMMIT DELETE ROWS AS '
        f'SELECT *, 0 AS {GROUP} FROM "{table.name}" WITH NO DATA'
    )


@functools.cache
def _insert_sql(table: Table, update_cols: tuple[str, ...]) -> tuple[str, str]:
    """The INSERT of one staging group, as the text before and after the group's number."""
    names = ", ".join(f'"{c}"' for c in column_names(table))
    keys = ", ".join(f'"{k}"' for k in key_names(table))
    before = (
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM pg_temp."{_staging(table)}" '
        f"WHERE {GROUP} = "
    )
    after = f" ON CONFLICT ({keys}) "
    if not update_cols:
        return before, after + "DO NOTHING"
    return before, after + "DO UPDATE SET " + ", ".join(
        f'"{c}" = EXCLUDED."{c}"' for c in update_cols
    )


def _set_tenant_sql(table: Table, group: int) -> str:
    """Set the tenant of a group's rows, read from the rows themselves: the script of INSERTs
    then holds nothing but group numbers, and needs no quoting."""
    return (
        f"SELECT set_config('app.tenant_id', (SELECT tenant_id FROM "
        f'pg_temp."{_staging(table)}" WHERE {GROUP} = {group} LIMIT 1), true)'
    )


async def write_buffered(uow: UnitOfWork) -> None:
    """Write the buffered rows now (before a statement that reads or moves them)."""
    found = uow.session.info.get(BatchState)
    if found is None or not found.pending:
        return
    pending, found.pending = found.pending, {}
    records: dict[str, list[tuple[Any, ...]]] = {}  # per table, every tenant's rows
    inserts: dict[str, list[tuple[Table, tuple[str, ...], int]]] = {}  # per tenant
    for (tenant, name), rows in pending.items():
        table = found.tables[name]
        columns = column_names(table)
        staged = records.setdefault(name, [])
        groups: dict[tuple[str, ...], int] = {}
        for row in rows.values():
            shape = tuple(sorted(row.update_cols))
            group = groups.get(shape)
            if group is None:
                found.groups += 1
                group = groups[shape] = found.groups
                inserts.setdefault(tenant, []).append((table, shape, group))
            staged.append((*map(row.values.get, columns), group))
    await uow.session.flush()  # nothing of the ORM's may be written under another tenant
    driver = await uow.driver()
    await driver.execute(";".join(_create_staging_sql(found.tables[n]) for n in records))
    for name, staged in records.items():
        table = found.tables[name]
        await driver.copy_records_to_table(
            _staging(table),
            schema_name="pg_temp",
            columns=[*column_names(table), GROUP],
            records=staged,
        )
    # Every INSERT in one script (one round trip). Row-level security checks each row against
    # the tenant set: the unit of work's own tenant goes last, so it stays set for what follows.
    script, current = [], uow.tenant_id
    for tenant in sorted(inserts, key=lambda t: t == uow.tenant_id):
        for table, shape, group in inserts[tenant]:
            if tenant != current:
                script.append(_set_tenant_sql(table, group))
                current = tenant
            before, after = _insert_sql(table, shape)
            script.append(f"{before}{group}{after}")
    await driver.execute(";".join(script))
    if current != uow.tenant_id:
        await driver.execute(SET_TENANT, uow.tenant_id)
