"""`import_analyze()`: fresh planner statistics for the tables a bulk import fills.

An import adds thousands of rows per chunk. Until autovacuum gets round to it, the planner
still believes the tables hold what they held before (nothing, for a first import), and
plans the next chunk's joins as nested loops over "a few rows": minutes per chunk instead of
a second. The import job calls this after its first chunks. ANALYZE needs the table owner,
hence a SECURITY DEFINER function that does exactly that and nothing else.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

from alembic import op

from crm_shared.migrations import app_role

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION import_analyze() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        BEGIN
            ANALYZE people, person_emails, person_phones, companies;
        END
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION import_analyze() FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION import_analyze() TO "{app_role()}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION import_analyze()")
