"""The hiring team of each job and the full record of candidates with a hired or offered
application; the flag that says which candidates still owe that read.

Candidates mirrored before this revision are flagged: the next pass reads the full record of
every one with a hired or offered application. Hiring teams are read with a job's other children
when the job is new or changed (``syncd refresh jobs ID...`` reads one now).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 13:10:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _record_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("raw", _json(), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "hiring_team",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("tenant", "job_id", "user_id", name="pk_hiring_team"),
    )
    op.create_index("ix_hiring_team_user", "hiring_team", ["tenant", "user_id"])
    op.create_table(
        "candidate_details",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=True),
        sa.Column("location", _json(), nullable=True),
        sa.Column("web", _json(), nullable=True),
        sa.Column("education", _json(), nullable=True),
        sa.Column("experience", _json(), nullable=True),
        sa.Column("updated_on", sa.DateTime(), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("tenant", "candidate_id", name="pk_candidate_details"),
    )
    # NOT NULL on a table that has rows needs a server default (SQLite's ADD COLUMN too).
    op.add_column(
        "candidates",
        sa.Column("details_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # What was mirrored before this revision owes its first read.
    t = sa.table(
        "candidates",
        sa.column("details_pending", sa.Boolean()),
        sa.column("deleted_at", sa.DateTime()),
    )
    op.execute(t.update().where(t.c.deleted_at.is_(None)).values(details_pending=True))


def downgrade() -> None:
    op.drop_column("candidates", "details_pending")
    op.drop_table("candidate_details")
    op.drop_index("ix_hiring_team_user", table_name="hiring_team")
    op.drop_table("hiring_team")
