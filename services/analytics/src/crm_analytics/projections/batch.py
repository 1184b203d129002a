"""Per-transaction state that makes a consumer batch cheap.

The consumer runner applies a partition's batch in one transaction, calling the handlers one
event at a time. Writes that no handler reads back (timeline entries, orders, invoices,
contracts, CSAT, surveys, campaign touches) are buffered here and written at commit with one
multi-row INSERT ... ON CONFLICT per tenant, table and column set; successive upserts of one
row are merged first, with the same result as running them in order. Anything that reads or
moves those rows (merges, unmerges, erasure) writes the buffer first. Alias and erasure
look-ups are remembered for the rest of the transaction. The state is keyed by the session, so
a failed batch (whose session is rolled back and discarded) leaves nothing behind.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, event, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from crm_analytics.database import Base
from crm_shared.uow import UnitOfWork

SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")
ROWS_PER_INSERT = 1000


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
        event.listen(sync, "before_commit", _write_before_commit)
        event.listen(sync, "after_rollback", _forget)
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
    keys = tuple(values[c.name] for c in table.primary_key.columns)
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


def _statements(batch: BatchState) -> list[tuple[Any, dict[str, Any] | None]]:
    statements: list[tuple[Any, dict[str, Any] | None]] = []
    by_tenant: dict[str, list[tuple[str, dict[tuple[Any, ...], Pending]]]] = {}
    for (tenant, name), rows in batch.pending.items():
        by_tenant.setdefault(tenant, []).append((name, rows))
    for tenant, tables in by_tenant.items():
        statements.append((SET_TENANT, {"tenant": tenant}))
        for name, rows in tables:
            table = batch.tables[name]
            keys = [c.name for c in table.primary_key.columns]
            groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
            for row in rows.values():
                shape = (tuple(sorted(row.values)), tuple(sorted(row.update_cols)))
                groups.setdefault(shape, []).append(row.values)
            for (_, update_cols), values in groups.items():
                for start in range(0, len(values), ROWS_PER_INSERT):
                    stmt = insert(table).values(values[start : start + ROWS_PER_INSERT])
                    if update_cols:
                        stmt = stmt.on_conflict_do_update(
                            index_elements=keys, set_={c: stmt.excluded[c] for c in update_cols}
                        )
                    else:
                        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
                    statements.append((stmt, None))
    batch.pending = {}
    return statements


def _write_before_commit(session: Session) -> None:
    """Sync hook: under asyncio it runs inside the session's greenlet, so it may emit SQL."""
    found = _STATES.get(session)
    if found is None or not found.pending:
        return
    for statement, params in _statements(found):
        session.execute(statement, params)


def _forget(session: Session) -> None:
    _STATES.pop(session, None)


async def write_buffered(uow: UnitOfWork) -> None:
    """Write the buffered rows now (before a statement that reads or moves them)."""
    found = _STATES.get(uow.session.sync_session)
    if found is None or not found.pending:
        return
    for statement, params in _statements(found):
        await uow.session.execute(statement, params)
    await uow.session.execute(SET_TENANT, {"tenant": uow.tenant_id})
