"""The outbox keeps fewer indexes up to date per event written (see
crm_shared.migrations.outbox_indexes_for_writes).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

from crm_shared.migrations import outbox_indexes_as_created, outbox_indexes_for_writes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_indexes_for_writes()


def downgrade() -> None:
    outbox_indexes_as_created()
