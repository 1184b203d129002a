"""new_uuid7(): version 7 event ids for the change events the score recompute inserts in SQL
(the function contacts has had since its 0003).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:50:00
"""

from collections.abc import Sequence

from alembic import op

from crm_shared.migrations import NEW_UUID7

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(NEW_UUID7)


def downgrade() -> None:
    op.execute("DROP FUNCTION new_uuid7()")
