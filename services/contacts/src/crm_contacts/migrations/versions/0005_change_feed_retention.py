"""Change feed retention: old `changes` rows are pruned, and the feed remembers how far.

`changed_at` dates each row. `prune_changes(before)` deletes the rows of every tenant older
than `before` and raises `change_feed_horizon` to the last (xid, seq) it deleted: a sync
token below it may have missed changes, and gets 410. (A row of a transaction still open
is not visible to the pruner and stays; the feed hands out nothing at or after such a
transaction until it ends, so no token can have passed it.)
The function runs as the table owner (a policy lets the owner, and only it, reach every
tenant's rows); the horizon holds ids and times only and is read across tenants.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:35:00
"""

from collections.abc import Sequence

from alembic import op

from crm_shared.migrations import app_role, grant_to_app

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE changes ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now()")
    op.execute("CREATE INDEX ix_changes_changed_at ON changes (changed_at)")
    op.execute("CREATE POLICY owner_prunes ON changes FOR ALL TO CURRENT_USER USING (true)")
    op.execute(
        """
        CREATE TABLE change_feed_horizon (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            xid xid8 NOT NULL,
            seq bigint NOT NULL,
            pruned_at timestamptz NOT NULL
        )
        """
    )
    grant_to_app("change_feed_horizon", "SELECT")
    op.execute(
        """
        CREATE FUNCTION prune_changes(before timestamptz) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        DECLARE
            pruned bigint;
        BEGIN
            WITH gone AS (
                DELETE FROM changes
                WHERE changed_at < before
                RETURNING xid, seq
            ), last AS (
                SELECT xid, seq, count(*) OVER () AS n FROM gone
                ORDER BY xid DESC, seq DESC LIMIT 1
            ), raised AS (
                INSERT INTO change_feed_horizon (xid, seq, pruned_at)
                SELECT xid, seq, now() FROM last
                ON CONFLICT (id) DO UPDATE SET xid = excluded.xid, seq = excluded.seq,
                    pruned_at = excluded.pruned_at
                WHERE (excluded.xid, excluded.seq)
                      > (change_feed_horizon.xid, change_feed_horizon.seq)
            )
            SELECT coalesce(max(n), 0) INTO pruned FROM last;
            RETURN pruned;
        END
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION prune_changes(timestamptz) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION prune_changes(timestamptz) TO "{app_role()}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION prune_changes(timestamptz)")
    op.execute("DROP TABLE change_feed_horizon")
    op.execute("DROP POLICY owner_prunes ON changes")
    op.execute("DROP INDEX ix_changes_changed_at")
    op.execute("ALTER TABLE changes DROP COLUMN changed_at")
