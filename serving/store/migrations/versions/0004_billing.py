"""Billing: remittances, their adjustments, the denials that reopen encounters; decisions gain POA and denial.

Revision ID: 0004_billing
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_billing"
down_revision = "0003_lifecycle"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "remittances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("payer", sa.String(200), nullable=False),
        sa.Column("trace", sa.String(80), nullable=True),
        sa.Column("paid_on", sa.Date, nullable=True),
        sa.Column("claims", sa.Integer, nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("denied", sa.Integer, nullable=False),
        sa.Column("received_at", Stamp, nullable=False, index=True),
        sa.Column("received_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("remittance_id", sa.Integer, sa.ForeignKey("remittances.id"), nullable=False, index=True),
        sa.Column("claim_id", sa.String(200), nullable=False, index=True),
        sa.Column("encounter_id", sa.String(32), sa.ForeignKey("encounters.id"), nullable=True, index=True),
        sa.Column("claim_status", sa.String(4), nullable=False),
        sa.Column("service", sa.String(48), nullable=True),
        sa.Column("group", sa.String(2), nullable=False),
        sa.Column("carc", sa.String(8), nullable=False, index=True),
        sa.Column("rarcs", sa.JSON, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("coding", sa.Boolean, nullable=False),
    )
    op.create_table(
        "denials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encounter_id", sa.String(32), sa.ForeignKey("encounters.id"), nullable=False, index=True),
        sa.Column("remittance_id", sa.Integer, sa.ForeignKey("remittances.id"), nullable=False, index=True),
        sa.Column("adjustment_id", sa.Integer, sa.ForeignKey("adjustments.id"), nullable=False),
        sa.Column("group", sa.String(2), nullable=False),
        sa.Column("carc", sa.String(8), nullable=False),
        sa.Column("rarcs", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("concerns", sa.String(20), nullable=False),
        sa.Column("codes", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("resolved_at", Stamp, nullable=True),
    )
    # New nullable columns: the append-only trigger guards rows, not the table's shape.
    op.add_column("decisions", sa.Column("denial_id", sa.Integer, nullable=True))
    op.create_index("ix_decisions_denial_id", "decisions", ["denial_id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_denial_id", "decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("denial_id")
    for table in ("denials", "adjustments", "remittances"):
        op.drop_table(table)
