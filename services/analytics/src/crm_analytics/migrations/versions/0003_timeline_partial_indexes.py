"""The timeline's company and lead indexes hold only the entries that name a company or a lead
(most name neither): every ingested entry used to add a key to both, a third of what writing
it cost. The queries that use them (a company's or a lead's entries) only ever look for
a given id, which implies it is not null, so they use the partial indexes as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_timeline_company_time", table_name="timeline_entries")
    op.drop_index("ix_timeline_lead", table_name="timeline_entries")
    op.create_index(
        "ix_timeline_company_time",
        "timeline_entries",
        ["tenant_id", "company_id", "occurred_at", "id"],
        postgresql_where="company_id IS NOT NULL",
    )
    op.create_index(
        "ix_timeline_lead",
        "timeline_entries",
        ["tenant_id", "lead_id"],
        postgresql_where="lead_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_company_time", table_name="timeline_entries")
    op.drop_index("ix_timeline_lead", table_name="timeline_entries")
    op.create_index(
        "ix_timeline_company_time",
        "timeline_entries",
        ["tenant_id", "company_id", "occurred_at", "id"],
    )
    op.create_index("ix_timeline_lead", "timeline_entries", ["tenant_id", "lead_id"])
