"""The proposed coding beside an encounter's suggestions, and a value on decisions (POA, position).

Revision ID: 0002_coding
Revises: 0001
Create Date: 2026-12-07

A coder's choices of principal diagnosis, sequence and POA are decisions like accept and reject
(actions `principal`, `sequence`, `poa`); `value` holds the POA indicator or the new position.
Columns are only added, so the append-only triggers on `decisions` stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_coding"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("encounters", sa.Column("coding", sa.JSON, nullable=True))
    op.add_column("decisions", sa.Column("value", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("value")
    with op.batch_alter_table("encounters") as batch:
        batch.drop_column("coding")
