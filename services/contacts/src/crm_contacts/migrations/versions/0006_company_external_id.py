"""Companies get an external id (the key of another system), unique per tenant like people's:
imports and integrations match companies on it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("companies", sa.Column("external_id", sa.String(length=200), nullable=True))
    op.create_unique_constraint(
        op.f("uq_companies_tenant_id_external_id"), "companies", ["tenant_id", "external_id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_companies_tenant_id_external_id"), "companies", type_="unique")
    op.drop_column("companies", "external_id")
