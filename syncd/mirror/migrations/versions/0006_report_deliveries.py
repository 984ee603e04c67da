"""Reporting view ``report_deliveries``: each hire's delivery state per sink, the target's id for
the person (the HRIS employee id), the onboarding status read back from the target and the one
syncd last wrote to SmartRecruiters. No personal data: names and emails stay in ``candidates``
(the delivery's payload is not shown). docs/reporting.md describes every column.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VIEW = """
SELECT d.tenant, d.sink, d.event_type, d.candidate_id, d.job_id, d.application_id,
       d.external_key, d.state, d.attempts, d.status_code, d.target_id, d.sink_status,
       w.status AS onboarding_written, w.written_at AS onboarding_written_at,
       a.onboarding_status AS onboarding_status, a.status AS application_status,
       j.title AS job_title, d.created_at AS queued_at, d.delivered_at, d.updated_at
FROM deliveries d
LEFT JOIN onboarding_writes w
  ON w.tenant = d.tenant AND w.candidate_id = d.candidate_id AND w.job_id = d.job_id
LEFT JOIN applications a
  ON a.tenant = d.tenant AND a.candidate_id = d.candidate_id AND a.job_id = d.job_id
LEFT JOIN jobs j ON j.tenant = d.tenant AND j.id = d.job_id"""


def upgrade() -> None:
    op.execute(f"CREATE VIEW report_deliveries AS {VIEW}")


def downgrade() -> None:
    op.execute("DROP VIEW report_deliveries")
