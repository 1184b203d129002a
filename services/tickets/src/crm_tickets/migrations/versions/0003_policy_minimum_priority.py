"""SLA policies may carry a minimum priority: a policy for key customers raises their tickets'
priority, not only their targets (the value tier sets SLA and priority).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sla_policies", sa.Column("minimum_priority", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("sla_policies", "minimum_priority")
