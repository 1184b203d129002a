"""customer_order_stats: a row per person summing their orders, kept by triggers on `orders`.

RFM, CLV and the score recompute need, per customer, the count, revenue, first and last order
and the first order's total. Aggregating 10M orders for that takes seconds each time; the stats
hold it ready. Statement-level triggers with transition tables refresh the stats of exactly the
people a statement touched, whatever wrote the orders (consumer batches, merges and unmerges
moving them, a rebuild's replay), so they cannot drift from the orders they sum.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_shared.migrations import tenant_table

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Unqualified names: they resolve on the caller's search path, so a rebuild's or a benchmark's
# copies of the tables keep their own stats.
REFRESH = """
CREATE FUNCTION refresh_customer_order_stats(tenants text[], contacts text[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM customer_order_stats AS s
    USING unnest(tenants, contacts) AS c(tenant_id, contact_id)
    WHERE s.tenant_id = c.tenant_id AND s.contact_id = c.contact_id;
    INSERT INTO customer_order_stats
        (tenant_id, contact_id, orders, revenue, first_at, last_at, first_total)
    SELECT o.tenant_id, o.contact_id, count(*), sum(o.total), min(o.placed_at),
           max(o.placed_at), (array_agg(o.total ORDER BY o.placed_at, o.order_id))[1]
    FROM orders AS o
    JOIN (SELECT DISTINCT * FROM unnest(tenants, contacts)) AS c(tenant_id, contact_id)
      ON o.tenant_id = c.tenant_id AND o.contact_id = c.contact_id
    WHERE o.cancelled_at IS NULL AND o.placed_at IS NOT NULL AND o.total IS NOT NULL
    GROUP BY o.tenant_id, o.contact_id;
$$
"""
# The people a statement touched: an update's rows before and after (a merge moves orders
# from one person to another), an insert's new rows, a delete's old ones.
ON_ORDERS_CHANGED = """
CREATE FUNCTION orders_changed_refresh_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_customer_order_stats(array_agg(tenant_id), array_agg(contact_id))
        FROM (SELECT DISTINCT tenant_id, contact_id FROM new_orders) AS touched;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM refresh_customer_order_stats(array_agg(tenant_id), array_agg(contact_id))
        FROM (SELECT tenant_id, contact_id FROM new_orders
              UNION SELECT tenant_id, contact_id FROM old_orders) AS touched;
    ELSE
        PERFORM refresh_customer_order_stats(array_agg(tenant_id), array_agg(contact_id))
        FROM (SELECT DISTINCT tenant_id, contact_id FROM old_orders) AS touched;
    END IF;
    RETURN NULL;
END
$$
"""
TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_orders",
    "UPDATE": "REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders",
    "DELETE": "REFERENCING OLD TABLE AS old_orders",
}


def upgrade() -> None:
    op.create_table(
        "customer_order_stats",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "tenant_id", name=op.f("pk_customer_order_stats")),
    )
    tenant_table("customer_order_stats")
    op.execute(REFRESH)
    op.execute(ON_ORDERS_CHANGED)
    for event, transition in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER orders_{event.lower()}_refresh_stats AFTER {event} ON orders "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION orders_changed_refresh_stats()"
        )
    # the orders already stored, every tenant's: the policy is lifted for this transaction only
    op.execute("ALTER TABLE orders NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE customer_order_stats NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "SELECT refresh_customer_order_stats(array_agg(tenant_id), array_agg(contact_id)) "
        "FROM (SELECT DISTINCT tenant_id, contact_id FROM orders) AS everyone"
    )
    op.execute("ALTER TABLE orders FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE customer_order_stats FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER orders_{event.lower()}_refresh_stats ON orders")
    op.execute("DROP FUNCTION orders_changed_refresh_stats()")
    op.execute("DROP FUNCTION refresh_customer_order_stats(text[], text[])")
    op.drop_table("customer_order_stats")
