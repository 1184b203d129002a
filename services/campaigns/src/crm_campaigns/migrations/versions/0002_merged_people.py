"""Merged people: whom an undoable `contact.merged` marked deleted in the projection, so a
`contact.unmerged` brings back exactly those.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_shared.migrations import tenant_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merged_people",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("merge_id", sa.String(length=100), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "merge_id", "contact_id", name=op.f("pk_merged_people")
        ),
    )
    tenant_table("merged_people")


def downgrade() -> None:
    op.drop_table("merged_people")
