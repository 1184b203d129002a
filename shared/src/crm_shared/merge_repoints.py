"""Person references that follow `contact.merged` and go back on `contact.unmerged`.

A service names the columns of its tables that point at a person (record kind -> column). A
merge moves every row naming a merged person to the survivor; when the merge can be undone
(it carries a `merge_id`) each moved row is remembered in the service's `merge_repoints`
table. An unmerge moves back exactly the remembered rows of the restored people that still
name the survivor: a row that moved on since (to yet another person) stays where it is, rows
added after the merge stay with the survivor, and a replayed unmerge finds nothing left.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Index,
    String,
    UniqueConstraint,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import InstrumentedAttribute, Mapped, declared_attr, mapped_column

from crm_shared.db import utcnow
from crm_shared.uow import UnitOfWork

PersonColumns = Mapping[str, InstrumentedAttribute[Any]]
# The values that move a row to another person (a service may bump the row's version too).
Moves = Callable[[InstrumentedAttribute[Any], Any], dict[str, Any]]


def person_only(column: InstrumentedAttribute[Any], person: Any) -> dict[str, Any]:
    return {column.key: person}


class MergeRepointColumns:
    """Mixin of a service's `merge_repoints` model (with its Base and TenantRow): a row that a
    merge moved from `original_id` to `survivor_id`; `record_kind` names the column."""

    __tablename__ = "merge_repoints"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            UniqueConstraint("tenant_id", "merge_id", "record_kind", "record_id"),
            Index(
                "ix_merge_repoints_tenant_merge_original", "tenant_id", "merge_id", "original_id"
            ),
        )

    merge_id: Mapped[str] = mapped_column(String(100))
    survivor_id: Mapped[uuid.UUID] = mapped_column()
    original_id: Mapped[uuid.UUID] = mapped_column()
    record_kind: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[uuid.UUID] = mapped_column()
    repointed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


async def repoint(
    uow: UnitOfWork,
    repoints: Any,
    columns: PersonColumns,
    merge_id: str | None,
    survivor: uuid.UUID,
    losers: list[uuid.UUID],
    moves: Moves = person_only,
) -> None:
    """Move the losers' rows to the survivor, remembering them when the merge can be undone."""
    for kind, column in columns.items():
        if merge_id is not None:
            await _remember(uow, repoints, merge_id, survivor, losers, kind, column)
        await uow.session.execute(
            update(column.class_)
            .where(column.in_(losers))
            .values(moves(column, survivor))
            .execution_options(synchronize_session=False)
        )


async def undo(
    uow: UnitOfWork,
    repoints: Any,
    columns: PersonColumns,
    merge_id: str,
    survivor: uuid.UUID,
    restored: list[uuid.UUID],
    moves: Moves = person_only,
) -> None:
    """Move the remembered rows of the restored people back (see the module's docstring)."""
    remembered = (repoints.merge_id == merge_id, repoints.original_id.in_(restored))
    for kind, column in columns.items():
        model = column.class_
        await uow.session.execute(
            update(model)
            .where(
                *remembered,
                repoints.record_kind == kind,
                repoints.record_id == model.id,
                column == survivor,
            )
            .values(moves(column, repoints.original_id))
            .execution_options(synchronize_session=False)
        )
    await uow.session.execute(delete(repoints).where(*remembered))


async def _remember(
    uow: UnitOfWork,
    repoints: Any,
    merge_id: str,
    survivor: uuid.UUID,
    losers: list[uuid.UUID],
    kind: str,
    column: InstrumentedAttribute[Any],
) -> None:
    moving = select(
        func.gen_random_uuid(),
        literal(uow.tenant_id),
        literal(merge_id),
        literal(survivor),
        column,
        literal(kind),
        column.class_.id,
        func.now(),
    ).where(column.in_(losers))
    columns = ["id", "tenant_id", "merge_id", "survivor_id", "original_id", "record_kind"]
    await uow.session.execute(
        insert(repoints)
        .from_select([*columns, "record_id", "repointed_at"], moving)
        .on_conflict_do_nothing()
    )
