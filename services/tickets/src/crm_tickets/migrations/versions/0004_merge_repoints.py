"""Merge repoints: which tickets and assets a `contact.merged` moved to the survivor, so a
`contact.unmerged` gives the restored person back exactly those.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

from alembic import op

from crm_shared.migrations import create_merge_repoints

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_merge_repoints()


def downgrade() -> None:
    op.drop_table("merge_repoints")
