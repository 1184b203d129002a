"""Index tickets.merged_into_id: every foreign key to tickets.id needs one, or removing a ticket
row checks the whole table for duplicates merged into it (a bulk clean-up of N tickets then
costs N sequential scans).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tickets_merged_into_id",
        "tickets",
        ["merged_into_id"],
        postgresql_where="merged_into_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_merged_into_id", table_name="tickets")
