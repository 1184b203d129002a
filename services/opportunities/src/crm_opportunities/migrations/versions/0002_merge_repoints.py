"""Merge repoints: which lead, deal and contact-email references a `contact.merged` moved, so
a `contact.unmerged` can move exactly those back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

from alembic import op

from crm_shared.migrations import create_merge_repoints

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_merge_repoints()


def downgrade() -> None:
    op.drop_table("merge_repoints")
