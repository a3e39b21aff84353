"""Initial schema: API keys, encounters, the append-only decisions trail, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp, nullable=True),
    )
    op.create_table(
        "encounters",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=True, index=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("setting", sa.String(20), nullable=True),
        sa.Column("date_of_service", sa.Date, nullable=True),
        sa.Column("patient_age", sa.Integer, nullable=True),
        sa.Column("patient_sex", sa.String(10), nullable=True),
        sa.Column("systems", sa.JSON, nullable=True),
        sa.Column("suggestions", sa.JSON, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("drg", sa.JSON, nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", Stamp, nullable=False, index=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", Stamp, nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=True),
        sa.Column("final_codes", sa.JSON, nullable=True),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encounter_id", sa.String(32), sa.ForeignKey("encounters.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("system", sa.String(20), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("replaces", sa.String(20), nullable=True),
        sa.Column("coder", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.UniqueConstraint("encounter_id", "seq"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("created_at", Stamp, nullable=False, index=True),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "job_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.UniqueConstraint("job_id", "seq"),
    )
    # The audit trail is never rewritten: the database itself refuses UPDATE and DELETE on decisions.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION decisions_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'the decisions audit trail is append-only'; END;
            $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
                      FOR EACH ROW EXECUTE FUNCTION decisions_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER decisions_no_{verb.lower()} BEFORE {verb} ON decisions
                           BEGIN SELECT RAISE(ABORT, 'the decisions audit trail is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decisions_append_only ON decisions")
        op.execute("DROP FUNCTION IF EXISTS decisions_append_only()")
    for table in ("job_items", "jobs", "decisions", "encounters", "api_keys"):
        op.drop_table(table)
