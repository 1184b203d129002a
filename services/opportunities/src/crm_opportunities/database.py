"""The opportunities service's declarative base; the column mixins come from the chassis."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Table

from crm_shared.db import ServiceBase, SoftDeleted, TenantRow, new_metadata, utcnow
from crm_shared.db import Versioned as _Versioned
from crm_shared.uow import UnitOfWork


class Base(ServiceBase):
    __abstract__ = True
    metadata = new_metadata()


class Versioned(_Versioned, SoftDeleted):
    """An aggregate root with optimistic versioning and a tombstone."""


@cache
def _insert_sql(table: Table) -> str:
    columns = ", ".join(c.name for c in table.columns)
    placeholders = ", ".join(f"${n}" for n in range(1, len(table.columns) + 1))
    return f"INSERT INTO {table.name} ({columns}) VALUES ({placeholders})"


async def insert_row(uow: UnitOfWork, row: Base) -> None:
    """INSERT a new row (without JSON columns) straight on the driver, filling the columns'
    Python defaults into the object: the hot paths' way, since the ORM's flush costs several
    times the statement's own CPU. The session does not track the row afterwards."""
    table = cast(Table, row.__table__)
    values = []
    for column in table.columns:
        value = getattr(row, column.key)
        default: Any = column.default
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
            setattr(row, column.key, value)
        values.append(value)
    await (await uow.driver()).execute(_insert_sql(table), *values)


__all__ = ["Base", "TenantRow", "Versioned", "insert_row", "utcnow"]
