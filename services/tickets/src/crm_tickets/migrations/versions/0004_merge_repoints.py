"""Merge repoints: which tickets and assets a `contact.merged` moved to the survivor, so a
`contact.unmerged` gives the restored person back exactly those.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_shared.migrations import tenant_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merge_repoints",
        sa.Column("merge_id", sa.String(length=100), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("original_id", sa.Uuid(), nullable=False),
        sa.Column("record_kind", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("repointed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_repoints")),
        sa.UniqueConstraint(
            "tenant_id",
            "merge_id",
            "record_kind",
            "record_id",
            name=op.f("uq_merge_repoints_tenant_id_merge_id_record_kind_record_id"),
        ),
    )
    op.create_index(
        op.f("ix_merge_repoints_tenant_id"), "merge_repoints", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_merge_repoints_tenant_merge_original",
        "merge_repoints",
        ["tenant_id", "merge_id", "original_id"],
        unique=False,
    )
    tenant_table("merge_repoints")


def downgrade() -> None:
    op.drop_table("merge_repoints")
