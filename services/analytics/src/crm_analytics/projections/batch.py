"""Per-transaction state that makes a consumer batch cheap.

The consumer runner applies a fetched batch in one transaction, calling the handlers one
event at a time. Writes that no handler reads back (timeline entries, orders, invoices,
contracts, CSAT, surveys, campaign touches) are buffered here and written before the commit
(`write_buffered`, the subscription's before_commit step) with one
INSERT ... SELECT FROM unnest(<an array per column>) ON CONFLICT per tenant, table and column
set (fixed SQL text per shape: nothing compiled per batch); successive upserts of one
row are merged first, with the same result as running them in order. Anything that reads or
moves those rows (merges, unmerges, erasure) writes the buffer first. Alias and erasure
look-ups are remembered for the rest of the transaction. The state is keyed by the session, so
a failed batch (whose session is rolled back and discarded) leaves nothing behind.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from crm_analytics.database import Base
from crm_shared.uow import SET_TENANT, UnitOfWork


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


_STATES: weakref.WeakKeyDictionary[Session, BatchState] = weakref.WeakKeyDictionary()


def state(uow: UnitOfWork) -> BatchState:
    sync = uow.session.sync_session
    found = _STATES.get(sync)
    if found is None:
        found = _STATES[sync] = BatchState()
    return found


def forget_people(uow: UnitOfWork) -> None:
    """Aliases or erasures changed in this transaction: look them up afresh."""
    found = state(uow)
    found.aliases.clear()
    found.alias_maps.clear()
    found.erased.clear()


def buffer_upsert(
    uow: UnitOfWork, model: type[Base], values: dict[str, Any], update_cols: list[str]
) -> None:
    """Queue `INSERT values ON CONFLICT (pk) DO UPDATE SET update_cols` (nothing when empty)."""
    table = cast(Table, model.__table__)
    batch = state(uow)
    batch.tables[table.name] = table
    keys = tuple(values[name] for name in key_names(table))
    rows = batch.pending.setdefault((uow.tenant_id, table.name), {})
    earlier = rows.get(keys)
    if earlier is None:
        rows[keys] = Pending(dict(values), list(update_cols))
        return
    # in order: the earlier insert (or update) then this update; missing columns filled in
    for column in update_cols:
        earlier.values[column] = values[column]
    for column, value in values.items():
        earlier.values.setdefault(column, value)
    earlier.update_cols += [c for c in update_cols if c not in earlier.update_cols]


@functools.cache
def key_names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


@functools.cache
def _sql_types(table: Table) -> dict[str, str]:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return {c.name: c.type.compile(dialect=dialect) for c in table.columns}


@functools.cache
def _upsert_sql(table: Table, columns: tuple[str, ...], update_cols: tuple[str, ...]) -> str:
    """Many rows in one statement: one array per column, unnested. Array-valued columns
    travel as array literals (unnest would flatten arrays of arrays). The text depends only
    on the shape, so asyncpg prepares it once per connection."""
    types = _sql_types(table)
    names = ", ".join(f'"{c}"' for c in columns)
    arrays = ", ".join(
        f"${i}::text[]" if types[c].endswith("[]") else f"${i}::{types[c]}[]"
        for i, c in enumerate(columns, start=1)
    )
    picked = ", ".join(
        f'u."{c}"::{types[c]}' if types[c].endswith("[]") else f'u."{c}"' for c in columns
    )
    keys = ", ".join(f'"{k}"' for k in key_names(table))
    sql = (
        f'INSERT INTO "{table.name}" ({names}) SELECT {picked} FROM unnest({arrays}) '
        f"AS u({names}) ON CONFLICT ({keys}) "
    )
    if not update_cols:
        return sql + "DO NOTHING"
    return sql + "DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update_cols)


def _array_literal(values: list[str] | None) -> str | None:
    if values is None:
        return None
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def _column_arrays(table: Table, columns: tuple[str, ...], rows: list[Pending]) -> list[list[Any]]:
    types = _sql_types(table)
    arrays = []
    for column in columns:
        values = [row.values[column] for row in rows]
        if types[column].endswith("[]"):
            values = [_array_literal(v) for v in values]
        arrays.append(values)
    return arrays


def _statements(batch: BatchState) -> list[tuple[str, tuple[Any, ...]]]:
    """(SQL, parameters) per tenant (after its set_config), table and shape (the columns
    given and the columns to update)."""
    statements: list[tuple[str, tuple[Any, ...]]] = []
    by_tenant: dict[str, list[tuple[str, dict[tuple[Any, ...], Pending]]]] = {}
    for (tenant, name), rows in batch.pending.items():
        by_tenant.setdefault(tenant, []).append((name, rows))
    for tenant, tables in by_tenant.items():
        statements.append((SET_TENANT, (tenant,)))
        for name, rows in tables:
            table = batch.tables[name]
            groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Pending]] = {}
            for row in rows.values():
                shape = (tuple(sorted(row.values)), tuple(sorted(row.update_cols)))
                groups.setdefault(shape, []).append(row)
            for (columns, update_cols), group in groups.items():
                sql = _upsert_sql(table, columns, update_cols)
                statements.append((sql, tuple(_column_arrays(table, columns, group))))
    batch.pending = {}
    return statements


async def write_buffered(uow: UnitOfWork) -> None:
    """Write the buffered rows now (before a statement that reads or moves them)."""
    found = _STATES.get(uow.session.sync_session)
    if found is None or not found.pending:
        return
    driver = await uow.driver()
    for sql, params in _statements(found):
        await driver.execute(sql, *params)
    await uow.switch_tenant(uow.tenant_id)  # the statements set each buffered row's tenant
