"""The errors report of an import pages through its rows in order: index (job_id, row_number)
instead of job_id alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_import_errors_job_row", "import_errors", ["job_id", "row_number"])
    op.drop_index("ix_import_errors_job_id", table_name="import_errors")


def downgrade() -> None:
    op.create_index("ix_import_errors_job_id", "import_errors", ["job_id"])
    op.drop_index("ix_import_errors_job_row", table_name="import_errors")
