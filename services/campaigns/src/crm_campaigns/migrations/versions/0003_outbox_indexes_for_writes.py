"""The outbox keeps fewer indexes up to date per event written (see
crm_shared.migrations.outbox_indexes_for_writes).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

from crm_shared.migrations import outbox_indexes_as_created, outbox_indexes_for_writes

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_indexes_for_writes()


def downgrade() -> None:
    outbox_indexes_as_created()
