"""The mirror's tables (SQLAlchemy Core). Alembic migrations in ``syncd/mirror/migrations`` are the
schema's source of truth for databases; this module describes the same tables for queries.

Every record table is tenant-scoped and carries, beside its typed reporting columns, the raw JSON
as received, ``first_seen_at``/``last_seen_at``, a content hash and ``deleted_at`` (tombstones).
Timestamps are naive UTC ``DateTime`` so the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Serial = BigInteger().with_variant(Integer(), "sqlite")

ID = 64  # SmartRecruiters ids are UUIDs or short strings; 64 leaves room.


def _record_columns() -> list[Column[object]]:
    return [
        Column("raw", Json, nullable=False),
        Column("content_hash", String(32), nullable=False),
        Column("first_seen_at", DateTime, nullable=False),
        Column("last_seen_at", DateTime, nullable=False),
        Column("deleted_at", DateTime),
    ]


jobs = Table(
    "jobs",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("title", Text),
    Column("ref_number", String(128)),
    Column("status", String(32)),
    Column("posting_status", String(32)),
    Column("department_id", String(ID)),
    Column("department", Text),
    Column("city", Text),
    Column("country_code", String(8)),
    Column("remote", Boolean),
    Column("created_on", DateTime),
    Column("updated_on", DateTime),
    Column("last_activity_on", DateTime),
    # Its latest approval is owed a read (new or changed job, or an approval audit event).
    Column("approval_pending", Boolean, nullable=False, default=False, server_default=false()),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "id", name="pk_jobs"),
    Index("ix_jobs_status", "tenant", "status"),
    Index("ix_jobs_updated_on", "tenant", "updated_on"),
)

job_status_history = Table(
    "job_status_history",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("changed_on", DateTime),
    Column("status", String(32)),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "job_id", "ordinal", name="pk_job_status_history"),
)

positions = Table(
    "positions",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("position_id", String(128)),
    Column("type", String(32)),
    Column("status", String(32)),
    Column("position_open_date", DateTime),
    Column("target_start_date", DateTime),
    Column("created_on", DateTime),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "id", name="pk_positions"),
    Index("ix_positions_job", "tenant", "job_id"),
)

candidates = Table(
    "candidates",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    # Personal data: nulled on deletion (the tombstone keeps ids and dates only).
    Column("first_name", Text),
    Column("last_name", Text),
    Column("email", Text),
    Column("city", Text),
    Column("country_code", String(8)),
    Column("internal", Boolean),
    Column("consent_status", String(32)),
    Column("created_on", DateTime),
    Column("updated_on", DateTime),
    *_record_columns(),
    # The full candidate record (candidate_details) is owed a read: new or changed candidate.
    Column("details_pending", Boolean, nullable=False, default=False, server_default=false()),
    PrimaryKeyConstraint("tenant", "id", name="pk_candidates"),
    Index("ix_candidates_updated_on", "tenant", "updated_on"),
)

applications = Table(
    "applications",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("candidate_id", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("application_id", String(ID)),
    Column("status", String(32)),
    Column("sub_status", Text),
    Column("source", Text),
    Column("source_type_id", String(ID)),
    Column("source_id", String(ID)),
    Column("onboarding_status", String(32)),
    Column("starts_on", DateTime),
    Column("created_on", DateTime),
    Column("updated_on", DateTime),
    # Work the poller still owes this row, committed with it so a kill cannot lose it.
    Column("history_pending", Boolean, nullable=False, default=False),
    Column("details_pending", Boolean, nullable=False, default=False),
    Column("interviews_pending", Boolean, nullable=False, default=False, server_default=false()),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "candidate_id", "job_id", name="pk_applications"),
    Index("ix_applications_status", "tenant", "status"),
    Index("ix_applications_job", "tenant", "job_id"),
    Index("ix_applications_application_id", "tenant", "application_id"),
)

application_status_history = Table(
    "application_status_history",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("candidate_id", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("changed_on", DateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("sub_status", Text),
    Column("application_id", String(ID)),
    # Orders entries that share a millisecond: the audit event id, or the position in the list.
    Column("ordinal", BigInteger, nullable=False, default=0),
    *_record_columns(),
    PrimaryKeyConstraint(
        "tenant", "candidate_id", "job_id", "changed_on", "status", name="pk_app_status_history"
    ),
)

offers = Table(
    "offers",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("candidate_id", String(ID)),
    Column("job_id", String(ID)),
    Column("status", String(32)),
    Column("created_on", DateTime),
    Column("updated_on", DateTime),
    Column("recheck", Boolean, nullable=False, default=False),
    Column("approval_pending", Boolean, nullable=False, default=False, server_default=false()),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "id", name="pk_offers"),
    Index("ix_offers_status", "tenant", "status"),
    Index("ix_offers_application", "tenant", "candidate_id", "job_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("event_name", String(64)),
    Column("event_date", DateTime),
    Column("entity_type", String(32)),
    Column("entity_id", String(ID)),
    Column("author_type", String(32)),
    Column("author_id", String(ID)),
    Column("candidate_id", String(ID)),
    Column("job_id", String(ID)),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "id", name="pk_audit_events"),
    Index("ix_audit_events_date", "tenant", "event_date"),
    Index("ix_audit_events_entity", "tenant", "entity_id"),
)

# Interviews are read per application (GET /interviews-api/v201904/interviews?applicationId=);
# candidate_id and job_id name the application asked about.
interviews = Table(
    "interviews",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("application_id", String(ID)),
    Column("candidate_id", String(ID)),
    Column("job_id", String(ID)),
    Column("organizer_id", String(ID)),
    Column("timezone", String(100)),
    Column("location", Text),
    Column("source", Text),
    Column("created_on", DateTime),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "id", name="pk_interviews"),
    Index("ix_interviews_application", "tenant", "candidate_id", "job_id"),
    Index("ix_interviews_job", "tenant", "job_id"),
)

interview_timeslots = Table(
    "interview_timeslots",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("interview_id", String(ID), nullable=False),
    Column("candidate_id", String(ID)),
    Column("job_id", String(ID)),
    Column("title", Text),
    Column("interview_type", Text),
    Column("place", Text),
    Column("starts_on", DateTime),
    Column("ends_on", DateTime),
    Column("candidate_status", String(32)),
    Column("no_show", Boolean),
    Column("interviewer_count", Integer),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "id", name="pk_interview_timeslots"),
    Index("ix_interview_timeslots_interview", "tenant", "interview_id"),
    Index("ix_interview_timeslots_candidate", "tenant", "candidate_id"),
)

# The latest approval request of each job and offer (the API answers "latest" only): one row per
# subject; a newer request replaces the older one in the same row.
approvals = Table(
    "approvals",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("subject_type", String(16), nullable=False),  # job | offer
    Column("subject_id", String(ID), nullable=False),
    Column("approval_id", String(ID)),
    Column("job_id", String(ID)),
    Column("candidate_id", String(ID)),
    Column("status", String(32)),
    Column("type", String(32)),
    Column("decision_mode", String(32)),
    Column("step_count", Integer),
    Column("decided_on", DateTime),  # the newest approver decision
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "subject_type", "subject_id", name="pk_approvals"),
    Index("ix_approvals_status", "tenant", "status"),
    Index("ix_approvals_candidate", "tenant", "candidate_id"),
)

# The hiring team of each job (GET /jobs/{jobId}/hiring-team): one row per member. The API gives
# the user's id and role only (HiringTeamMemberResponse); the hiring manager is the member whose
# role is HIRING_MANAGER.
hiring_team = Table(
    "hiring_team",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("role", String(32)),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "job_id", "user_id", name="pk_hiring_team"),
    Index("ix_hiring_team_user", "tenant", "user_id"),
)

# The full record of candidates with a hired or offered application (GET /candidates/{id}):
# what the list leaves out. Personal data: nulled on deletion (the tombstone keeps ids and dates).
candidate_details = Table(
    "candidate_details",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("candidate_id", String(ID), nullable=False),
    Column("phone_number", Text),
    Column("location", Json),
    Column("web", Json),
    Column("education", Json),
    Column("experience", Json),
    Column("updated_on", DateTime),
    *_record_columns(),
    PrimaryKeyConstraint("tenant", "candidate_id", name="pk_candidate_details"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant", String(ID), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("record_key", String(160)),
    Column("reason", Text, nullable=False),
    Column("raw", Json),
    Column("run_id", String(36)),
    Column("created_at", DateTime, nullable=False),
    Index("ix_quarantine_resource", "tenant", "resource"),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("resource", String(32), nullable=False),
    # Where the next incremental pass starts (already minus the lag window).
    Column("cursor", DateTime),
    Column("last_pass_started_at", DateTime),
    Column("last_pass_ended_at", DateTime),
    Column("last_sweep_at", DateTime),
    # The pass in progress, committed after every page so a killed run resumes mid-pass.
    Column("pass_mode", String(16)),
    Column("pass_cursor", DateTime),
    Column("pass_started_at", DateTime),
    Column("pass_max_seen", DateTime),
    Column("pass_page", Text),
    Column("pass_run_id", String(36)),
    PrimaryKeyConstraint("tenant", "resource", name="pk_sync_state"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("tenant", String(ID), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("cursor_used", DateTime),
    Column("fetched", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("quarantined", Integer, nullable=False, default=0),
    Column("api_calls", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("error_message", Text),
    Index("ix_sync_runs_resource", "tenant", "resource", "started_at"),
)

changes = Table(
    "changes",
    metadata,
    Column("sequence", Serial, primary_key=True, autoincrement=True),
    Column("tenant", String(ID), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("record_key", String(160), nullable=False),
    # created / updated / deleted, or a domain event: status_changed, hired, offer_accepted …
    Column("kind", String(32), nullable=False),
    Column("data", Json),
    Column("run_id", String(36)),
    Column("occurred_at", DateTime, nullable=False),
    Index("ix_changes_record", "tenant", "resource", "record_key"),
    # AUTOINCREMENT: SQLite never hands out a number again once the rows holding it are pruned.
    sqlite_autoincrement=True,
)

# ---- the push side (migration 0004) -------------------------------------------------------------
# Each sink's position in the outbox: the last sequence it has turned into deliveries.
sink_cursors = Table(
    "sink_cursors",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("sink", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("start", String(32), nullable=False),  # the sink's `start` when the cursor was made
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    PrimaryKeyConstraint("tenant", "sink", name="pk_sink_cursors"),
)

# A delivery's key: one per hire event, sink and hire round (migration 0008).
DELIVERY_KEY = ("tenant", "sink", "candidate_id", "job_id", "event_type", "hire_round")

# One row per (sink, external key, event type, hire round): the delivery's stable id (the
# Standard Webhooks `webhook-id`, the same on every retry), its state and the target's answer.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant", String(ID), nullable=False),
    Column("sink", String(64), nullable=False),
    Column("delivery_id", String(64), nullable=False),
    # From the SmartRecruiters application id, fixed at the first attempt (the hire's details,
    # the application id among them, are in the mirror by then).
    Column("external_key", String(160)),
    Column("event_type", String(64), nullable=False),
    Column("candidate_id", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("application_id", String(ID)),
    Column("sequence", BigInteger),  # the outbox record it came from (None: a `start` backlog)
    # pending | in_flight | delivered | rejected | dead | skipped
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("payload", Json),  # fixed at the first attempt: every retry sends the same body
    Column("target_id", String(160)),
    Column("reason", Text),
    Column("status_code", Integer),
    Column("sink_status", String(64)),  # the onboarding status last read back from the target
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    # 1 for the application's first hire at this sink; a hire revoked and made again is the next
    # round, with deliveries of its own (migration 0008). The same hire seen twice is one round.
    Column("hire_round", Integer, nullable=False, server_default="1"),
    # After a failed attempt (429/5xx/timeout/401/403): when the delivery is due again (a later
    # push pass takes it; NULL: due now). Migration 0009.
    Column("next_attempt_at", DateTime),
    UniqueConstraint(*DELIVERY_KEY, name="uq_deliveries_key"),
    UniqueConstraint("delivery_id", name="uq_deliveries_delivery_id"),
    Index("ix_deliveries_state", "tenant", "sink", "state", "id"),
    Index("ix_deliveries_person", "tenant", "sink", "candidate_id"),
)

# The onboarding status syncd last wrote to SmartRecruiters per application, and the hire round
# it was written for: a call only when the value changes within a round; a rehire (a later
# round) is written again from READY_TO_ONBOARD.
onboarding_writes = Table(
    "onboarding_writes",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("candidate_id", String(ID), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("status", String(32), nullable=False),
    Column("written_at", DateTime, nullable=False),
    # The deliveries' hire_round the write was for (migration 0010).
    Column("hire_round", Integer, nullable=False, server_default="1"),
    PrimaryKeyConstraint("tenant", "candidate_id", "job_id", name="pk_onboarding_writes"),
)

# Conditions reported once per tenant (e.g. 404 ONBOARDING_STATUS_NOT_ACTIVE).
push_notices = Table(
    "push_notices",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("code", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("first_at", DateTime, nullable=False),
    Column("last_at", DateTime, nullable=False),
    PrimaryKeyConstraint("tenant", "code", name="pk_push_notices"),
)

RECORD_TABLES = (
    jobs,
    job_status_history,
    positions,
    candidates,
    applications,
    application_status_history,
    offers,
    audit_events,
    interviews,
    interview_timeslots,
    approvals,
    hiring_team,
    candidate_details,
)

# Webhook callbacks accepted by any replica (docs/daemon.md, "Webhook inbox"): what to refresh
# (event type, resource, id; never a body) and the event-id, whose primary key is the replay
# record every replica checks. A row with ``done_at`` NULL waits for the tenant's leader; done
# rows stay as replay records for twice the signature tolerance, then are pruned.
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("tenant", String(ID), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("resource", String(64)),  # None: an event syncd does not mirror (replay record only)
    Column("record_id", String(200)),
    Column("received_at", DateTime, nullable=False),
    Column("done_at", DateTime),
    PrimaryKeyConstraint("tenant", "event_id", name="pk_webhook_inbox"),
    Index("ix_webhook_inbox_open", "tenant", "done_at", "received_at"),
)
