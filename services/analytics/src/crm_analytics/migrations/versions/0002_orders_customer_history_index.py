"""The customer history index: each customer's non-cancelled orders in (placed_at, order_id)
order with their totals and products, so the per-customer aggregates behind the measures, the
repeat and cross-sales and the score recompute stream from the index alone (no table reads, no
sort) at millions of orders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_orders_customer_history ON orders "
        "(tenant_id, contact_id, placed_at, order_id) INCLUDE (total, skus) "
        "WHERE cancelled_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_orders_customer_history")
