"""Interviews with their timeslots, and the latest approval of each job and offer; the flags that
say which applications, jobs and offers still owe those reads.

Rows mirrored before this revision are flagged: the next pass reads the interviews of every
application that qualifies and the approvals of every job and offer past CREATED, as a backfill
would, and nothing else has to be rerun.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 23:23:07.542795
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
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


# (table, flag column): work owed after a pass, like history_pending and details_pending.
FLAGS = (
    ("applications", "interviews_pending"),
    ("jobs", "approval_pending"),
    ("offers", "approval_pending"),
)


def upgrade() -> None:
    op.create_table(
        "interviews",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=True),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("organizer_id", sa.String(length=64), nullable=True),
        sa.Column("timezone", sa.String(length=100), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_interviews"),
    )
    op.create_index("ix_interviews_application", "interviews", ["tenant", "candidate_id", "job_id"])
    op.create_index("ix_interviews_job", "interviews", ["tenant", "job_id"])
    op.create_table(
        "interview_timeslots",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("interview_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("interview_type", sa.Text(), nullable=True),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("starts_on", sa.DateTime(), nullable=True),
        sa.Column("ends_on", sa.DateTime(), nullable=True),
        sa.Column("candidate_status", sa.String(length=32), nullable=True),
        sa.Column("no_show", sa.Boolean(), nullable=True),
        sa.Column("interviewer_count", sa.Integer(), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_interview_timeslots"),
    )
    op.create_index(
        "ix_interview_timeslots_interview", "interview_timeslots", ["tenant", "interview_id"]
    )
    op.create_index(
        "ix_interview_timeslots_candidate", "interview_timeslots", ["tenant", "candidate_id"]
    )
    op.create_table(
        "approvals",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("approval_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("decision_mode", sa.String(length=32), nullable=True),
        sa.Column("step_count", sa.Integer(), nullable=True),
        sa.Column("decided_on", sa.DateTime(), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("tenant", "subject_type", "subject_id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_status", "approvals", ["tenant", "status"])
    op.create_index("ix_approvals_candidate", "approvals", ["tenant", "candidate_id"])
    for table, flag in FLAGS:
        # NOT NULL on a table that has rows needs a server default (SQLite's ADD COLUMN too).
        op.add_column(
            table, sa.Column(flag, sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        # What was mirrored before this revision owes its first read.
        t = sa.table(table, sa.column(flag, sa.Boolean()), sa.column("deleted_at", sa.DateTime()))
        op.execute(t.update().where(t.c.deleted_at.is_(None)).values({flag: True}))


def downgrade() -> None:
    for table, flag in FLAGS:
        op.drop_column(table, flag)
    op.drop_index("ix_approvals_candidate", table_name="approvals")
    op.drop_index("ix_approvals_status", table_name="approvals")
    op.drop_table("approvals")
    op.drop_index("ix_interview_timeslots_candidate", table_name="interview_timeslots")
    op.drop_index("ix_interview_timeslots_interview", table_name="interview_timeslots")
    op.drop_table("interview_timeslots")
    op.drop_index("ix_interviews_job", table_name="interviews")
    op.drop_index("ix_interviews_application", table_name="interviews")
    op.drop_table("interviews")
