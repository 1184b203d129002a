"""Derived from the orders, kept by triggers on `orders`: customer_order_stats, a row per
person summing their orders, and order_sequence, each order's place in its person's history.

RFM, CLV and the score recompute need, per customer, the count, revenue, first and last order
and the first order's total; repeat and cross-sales need, per order, whether it is the person's
first and whether it brings a product they had not bought before. Working either out from 10M
orders takes seconds to tens of seconds each time; these tables hold it ready. Statement-level
triggers with transition tables refresh exactly the people a statement touched, whatever wrote
the orders (consumer batches, merges and unmerges moving them, a rebuild's replay), so they
cannot drift from the orders they come from.

Also drops new_uuid7() (0006): the score recompute makes its event ids in numpy now.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_shared.migrations import NEW_UUID7, tenant_table

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Unqualified names: they resolve on the caller's search path, so a rebuild's or a benchmark's
# copies of the tables keep their own. For each (tenant, person, since) given, one per person:
# the stats are summed afresh; the sequence is worked out afresh from the orders and rewritten
# from `since` on, where it differs (an order's place and new products depend only on the
# orders before it, so those before the earliest changed order stay). A new order thus adds
# one sequence row and rewrites one stats row, whatever the person's history. Only `removals`
# (an update or a delete, not an insert) can leave rows to delete. PL/pgSQL, not SQL: its
# statements are planned once per session, not at every call.
REFRESH = """
CREATE FUNCTION refresh_customer_orders(
    tenants text[], contacts text[], since timestamptz[], removals boolean
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- one refresh of a person at a time: one running concurrently for the same person (another
    -- consumer, a merge) waits here until this transaction ends, then reads its orders afresh
    -- (each statement below takes a new snapshot); people are locked in one order, no deadlock
    PERFORM pg_advisory_xact_lock(hashtext(tenant_id), hashtext(contact_id))
    FROM (SELECT * FROM unnest(tenants, contacts) AS c(tenant_id, contact_id)
          ORDER BY tenant_id, contact_id) AS people;
    -- who has no counted order left has no stats (each test is an index probe of the orders)
    DELETE FROM customer_order_stats AS s
    USING unnest(tenants, contacts) AS c(tenant_id, contact_id)
    WHERE removals AND s.tenant_id = c.tenant_id AND s.contact_id = c.contact_id
      AND NOT EXISTS (SELECT FROM orders AS o
                      WHERE o.tenant_id = s.tenant_id AND o.contact_id = s.contact_id
                        AND o.cancelled_at IS NULL AND o.placed_at IS NOT NULL
                        AND o.total IS NOT NULL);
    INSERT INTO customer_order_stats
        (tenant_id, contact_id, orders, revenue, first_at, last_at, first_total)
    SELECT o.tenant_id, o.contact_id, count(*), sum(o.total), min(o.placed_at),
           max(o.placed_at), (array_agg(o.total ORDER BY o.placed_at, o.order_id))[1]
    FROM orders AS o
    JOIN unnest(tenants, contacts) AS c(tenant_id, contact_id)
      ON o.tenant_id = c.tenant_id AND o.contact_id = c.contact_id
    WHERE o.cancelled_at IS NULL AND o.placed_at IS NOT NULL AND o.total IS NOT NULL
    GROUP BY o.tenant_id, o.contact_id
    ON CONFLICT (contact_id, tenant_id) DO UPDATE SET
        orders = excluded.orders, revenue = excluded.revenue, first_at = excluded.first_at,
        last_at = excluded.last_at, first_total = excluded.first_total;
    -- an order no longer kept (cancelled, moved to another person) leaves the sequence
    DELETE FROM order_sequence AS s
    USING unnest(tenants, contacts, since) AS c(tenant_id, contact_id, earliest)
    WHERE removals AND s.tenant_id = c.tenant_id AND s.contact_id = c.contact_id
      AND s.placed_at >= coalesce(c.earliest, '-infinity')
      AND NOT EXISTS (SELECT FROM orders AS o
                      WHERE o.tenant_id = s.tenant_id AND o.order_id = s.order_id
                        AND o.contact_id = s.contact_id AND o.cancelled_at IS NULL
                        AND o.placed_at IS NOT NULL);
    -- each kept order's position (by placed_at, order_id) and how many of its products the
    -- person buys there for the first time
    WITH placed AS (
        SELECT o.tenant_id, o.contact_id, o.order_id, o.placed_at, o.skus,
               row_number() OVER (PARTITION BY o.tenant_id, o.contact_id
                                  ORDER BY o.placed_at, o.order_id)::int AS nth,
               o.placed_at >= coalesce(c.earliest, '-infinity') AS changed
        FROM orders AS o
        JOIN unnest(tenants, contacts, since) AS c(tenant_id, contact_id, earliest)
          ON o.tenant_id = c.tenant_id AND o.contact_id = c.contact_id
        WHERE o.cancelled_at IS NULL AND o.placed_at IS NOT NULL
    ), first_bought AS (
        SELECT tenant_id, contact_id, nth, count(*)::int AS new_products
        FROM (SELECT tenant_id, contact_id, min(nth) AS nth
              FROM placed, unnest(skus) AS sku GROUP BY tenant_id, contact_id, sku) AS products
        GROUP BY tenant_id, contact_id, nth
    ), fresh AS (
        SELECT p.tenant_id, p.contact_id, p.order_id, p.placed_at, p.nth,
               coalesce(f.new_products, 0) AS new_products
        FROM placed AS p LEFT JOIN first_bought AS f USING (tenant_id, contact_id, nth)
        WHERE p.changed
    )
    INSERT INTO order_sequence (tenant_id, contact_id, order_id, placed_at, nth, new_products)
    SELECT f.* FROM fresh AS f
    LEFT JOIN order_sequence AS s
      ON s.tenant_id = f.tenant_id AND s.contact_id = f.contact_id AND s.order_id = f.order_id
    WHERE (s.placed_at, s.nth, s.new_products)
          IS DISTINCT FROM (f.placed_at, f.nth, f.new_products)
    ON CONFLICT (contact_id, order_id, tenant_id) DO UPDATE SET
        placed_at = excluded.placed_at, nth = excluded.nth, new_products = excluded.new_products;
END
$$
"""
# The people a statement touched, each from the earliest order time among their rows: an
# update's rows before and after (a merge moves orders from one person to another), an insert's
# new rows, a delete's old ones. An upsert fires both the INSERT and the UPDATE trigger, one of
# them over no rows: that one does nothing.
ON_ORDERS_CHANGED = """
CREATE FUNCTION orders_changed_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenants text[];
    contacts text[];
    since timestamptz[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(tenant_id), array_agg(contact_id), array_agg(earliest)
        INTO tenants, contacts, since
        FROM (SELECT tenant_id, contact_id, min(placed_at) AS earliest FROM new_orders
              GROUP BY tenant_id, contact_id) AS touched;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(tenant_id), array_agg(contact_id), array_agg(earliest)
        INTO tenants, contacts, since
        FROM (SELECT tenant_id, contact_id, min(placed_at) AS earliest
              FROM (SELECT tenant_id, contact_id, placed_at FROM new_orders
                    UNION ALL SELECT tenant_id, contact_id, placed_at FROM old_orders) AS rows
              GROUP BY tenant_id, contact_id) AS touched;
    ELSE
        SELECT array_agg(tenant_id), array_agg(contact_id), array_agg(earliest)
        INTO tenants, contacts, since
        FROM (SELECT tenant_id, contact_id, min(placed_at) AS earliest FROM old_orders
              GROUP BY tenant_id, contact_id) AS touched;
    END IF;
    IF contacts IS NOT NULL THEN
        PERFORM refresh_customer_orders(tenants, contacts, since, TG_OP <> 'INSERT');
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
    op.create_table(
        "order_sequence",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nth", sa.Integer(), nullable=False),
        sa.Column("new_products", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "contact_id", "order_id", "tenant_id", name=op.f("pk_order_sequence")
        ),
    )
    # repeat and cross-sales of a period: an index-only count
    op.create_index(
        "ix_order_sequence_placed",
        "order_sequence",
        ["tenant_id", "placed_at"],
        postgresql_include=["nth", "new_products"],
    )
    for table in ("customer_order_stats", "order_sequence"):
        tenant_table(table)
    op.execute(REFRESH)
    op.execute(ON_ORDERS_CHANGED)
    for event, transition in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER orders_{event.lower()}_refresh AFTER {event} ON orders "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION orders_changed_refresh()"
        )
    # the orders already stored, every tenant's: the policy is lifted for this transaction only
    derived = ("orders", "customer_order_stats", "order_sequence")
    for table in derived:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "SELECT refresh_customer_orders(array_agg(tenant_id), array_agg(contact_id), NULL, "
        "true) FROM (SELECT DISTINCT tenant_id, contact_id FROM orders) AS everyone"
    )
    for table in derived:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    # the score recompute now makes its event ids in numpy: nothing calls it any more
    op.execute("DROP FUNCTION new_uuid7()")


def downgrade() -> None:
    op.execute(NEW_UUID7)
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER orders_{event.lower()}_refresh ON orders")
    op.execute("DROP FUNCTION orders_changed_refresh()")
    op.execute("DROP FUNCTION refresh_customer_orders(text[], text[], timestamptz[], boolean)")
    op.drop_table("order_sequence")
    op.drop_table("customer_order_stats")
