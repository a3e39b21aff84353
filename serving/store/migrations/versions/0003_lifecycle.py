"""Data lifecycle: a `deletions` audit table, and the decisions trail deletable only through it.

An encounter's decisions are deleted with it (its note must not outlive a deletion or a retention
period), so the append-only trigger now lets a DELETE through only when a `deletions` row records the
encounter's deletion first; UPDATE stays refused, and a DELETE with no such row still fails.

Revision ID: 0003_lifecycle
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lifecycle"
down_revision = "0002_coding"
branch_labels = None
depends_on = None

REFUSE = "the decisions audit trail is append-only"


def upgrade() -> None:
    op.create_table(
        "deletions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target", sa.String(32), nullable=False, index=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("removed", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION decisions_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM deletions
                        WHERE kind = 'encounter' AND target = OLD.encounter_id) THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION '{REFUSE}';
            END;
            $$ LANGUAGE plpgsql""")
    else:
        op.execute("DROP TRIGGER IF EXISTS decisions_no_delete")
        op.execute(f"""CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
                       WHEN NOT EXISTS (SELECT 1 FROM deletions WHERE kind = 'encounter'
                                        AND target = OLD.encounter_id)
                       BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION decisions_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{REFUSE}'; END;
            $$ LANGUAGE plpgsql""")
    else:
        op.execute("DROP TRIGGER IF EXISTS decisions_no_delete")
        op.execute(f"""CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
                       BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END""")
    op.drop_table("deletions")
