"""Initial mirror schema: record tables, outbox, checkpoints, runs, quarantine, and the `hires`
reporting view.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 21:10:47.851994
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# One row per hired application; days_to_hire needs date arithmetic, which each dialect spells
# its own way, so the view hides it and reports stay portable SQL.
HIRES_SELECT = """
SELECT a.tenant, a.candidate_id, a.job_id, a.application_id, a.source, a.created_on AS applied_on,
       h.hired_on, {days} AS days_to_hire
FROM applications a
JOIN (SELECT tenant, candidate_id, job_id, MIN(changed_on) AS hired_on
      FROM application_status_history
      WHERE status = 'HIRED' AND deleted_at IS NULL
      GROUP BY tenant, candidate_id, job_id) h
  ON h.tenant = a.tenant AND h.candidate_id = a.candidate_id AND h.job_id = a.job_id
WHERE a.status = 'HIRED' AND a.deleted_at IS NULL
"""


def _days(dialect: str) -> str:
    if dialect == "postgresql":
        return "EXTRACT(EPOCH FROM (h.hired_on - a.created_on)) / 86400.0"
    return "julianday(h.hired_on) - julianday(a.created_on)"


def upgrade() -> None:

    op.create_table(
        "application_status_history",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("changed_on", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("sub_status", sa.Text(), nullable=True),
        sa.Column("application_id", sa.String(length=64), nullable=True),
        sa.Column("ordinal", sa.BigInteger(), nullable=False),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant", "candidate_id", "job_id", "changed_on", "status", name="pk_app_status_history"
        ),
    )
    op.create_table(
        "applications",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("sub_status", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_type_id", sa.String(length=64), nullable=True),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("onboarding_status", sa.String(length=32), nullable=True),
        sa.Column("starts_on", sa.DateTime(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=True),
        sa.Column("updated_on", sa.DateTime(), nullable=True),
        sa.Column("history_pending", sa.Boolean(), nullable=False),
        sa.Column("details_pending", sa.Boolean(), nullable=False),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "candidate_id", "job_id", name="pk_applications"),
    )
    op.create_index(
        "ix_applications_application_id", "applications", ["tenant", "application_id"], unique=False
    )
    op.create_index("ix_applications_job", "applications", ["tenant", "job_id"], unique=False)
    op.create_index("ix_applications_status", "applications", ["tenant", "status"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_name", sa.String(length=64), nullable=True),
        sa.Column("event_date", sa.DateTime(), nullable=True),
        sa.Column("entity_type", sa.String(length=32), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("author_type", sa.String(length=32), nullable=True),
        sa.Column("author_id", sa.String(length=64), nullable=True),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_date", "audit_events", ["tenant", "event_date"], unique=False)
    op.create_index("ix_audit_events_entity", "audit_events", ["tenant", "entity_id"], unique=False)
    op.create_table(
        "candidates",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("country_code", sa.String(length=8), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=True),
        sa.Column("consent_status", sa.String(length=32), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=True),
        sa.Column("updated_on", sa.DateTime(), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_candidates"),
    )
    op.create_index(
        "ix_candidates_updated_on", "candidates", ["tenant", "updated_on"], unique=False
    )
    op.create_table(
        "changes",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("record_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
    )
    op.create_index(
        "ix_changes_record", "changes", ["tenant", "resource", "record_key"], unique=False
    )
    op.create_table(
        "job_status_history",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("changed_on", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "job_id", "ordinal", name="pk_job_status_history"),
    )
    op.create_table(
        "jobs",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("ref_number", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("posting_status", sa.String(length=32), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("country_code", sa.String(length=8), nullable=True),
        sa.Column("remote", sa.Boolean(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=True),
        sa.Column("updated_on", sa.DateTime(), nullable=True),
        sa.Column("last_activity_on", sa.DateTime(), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_status", "jobs", ["tenant", "status"], unique=False)
    op.create_index("ix_jobs_updated_on", "jobs", ["tenant", "updated_on"], unique=False)
    op.create_table(
        "offers",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=True),
        sa.Column("updated_on", sa.DateTime(), nullable=True),
        sa.Column("recheck", sa.Boolean(), nullable=False),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_offers"),
    )
    op.create_index(
        "ix_offers_application", "offers", ["tenant", "candidate_id", "job_id"], unique=False
    )
    op.create_index("ix_offers_status", "offers", ["tenant", "status"], unique=False)
    op.create_table(
        "positions",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("position_id", sa.String(length=128), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("position_open_date", sa.DateTime(), nullable=True),
        sa.Column("target_start_date", sa.DateTime(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_positions"),
    )
    op.create_index("ix_positions_job", "positions", ["tenant", "job_id"], unique=False)
    op.create_table(
        "quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("record_key", sa.String(length=160), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quarantine_resource", "quarantine", ["tenant", "resource"], unique=False)
    op.create_table(
        "sync_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("cursor_used", sa.DateTime(), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sync_runs_resource", "sync_runs", ["tenant", "resource", "started_at"], unique=False
    )
    op.create_table(
        "sync_state",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.DateTime(), nullable=True),
        sa.Column("last_pass_started_at", sa.DateTime(), nullable=True),
        sa.Column("last_pass_ended_at", sa.DateTime(), nullable=True),
        sa.Column("last_sweep_at", sa.DateTime(), nullable=True),
        sa.Column("pass_mode", sa.String(length=16), nullable=True),
        sa.Column("pass_cursor", sa.DateTime(), nullable=True),
        sa.Column("pass_started_at", sa.DateTime(), nullable=True),
        sa.Column("pass_max_seen", sa.DateTime(), nullable=True),
        sa.Column("pass_page", sa.Text(), nullable=True),
        sa.Column("pass_run_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "resource", name="pk_sync_state"),
    )

    dialect = op.get_bind().dialect.name
    op.execute("CREATE VIEW hires AS " + HIRES_SELECT.format(days=_days(dialect)))


def downgrade() -> None:
    op.execute("DROP VIEW hires")

    op.drop_table("sync_state")
    op.drop_index("ix_sync_runs_resource", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_index("ix_quarantine_resource", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_positions_job", table_name="positions")
    op.drop_table("positions")
    op.drop_index("ix_offers_status", table_name="offers")
    op.drop_index("ix_offers_application", table_name="offers")
    op.drop_table("offers")
    op.drop_index("ix_jobs_updated_on", table_name="jobs")
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("job_status_history")
    op.drop_index("ix_changes_record", table_name="changes")
    op.drop_table("changes")
    op.drop_index("ix_candidates_updated_on", table_name="candidates")
    op.drop_table("candidates")
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
    op.drop_index("ix_audit_events_date", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_applications_status", table_name="applications")
    op.drop_index("ix_applications_job", table_name="applications")
    op.drop_index("ix_applications_application_id", table_name="applications")
    op.drop_table("applications")
    op.drop_table("application_status_history")
