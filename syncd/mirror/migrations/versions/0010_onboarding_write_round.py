"""``onboarding_writes.hire_round``: the hire round syncd's last onboarding-status write was for.
A rehire (a later round, migration 0008) is written to SmartRecruiters again from
READY_TO_ONBOARD; before, the last write per application was compared without its round, so
after ONBOARDING_SUCCESSFUL for round 1 nothing was ever written for round 2.

Existing rows get the round derived from the deliveries: the latest hire round of the
application (at any sink) that had reached its outcome (``delivered`` by ``delivered_at``,
``rejected`` by ``updated_at``) when the write was made, else 1. A write can only follow its
round's outcome, and each sink writes for its latest round only, so this is the round the write
was for; a rehire whose statuses the old comparison suppressed is left behind the recorded round
and is written on the next push.

A plain ADD COLUMN on both databases (no SQLite table copy), so the report_deliveries view that
reads the table stays as it is.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 22:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DERIVE = """
UPDATE onboarding_writes SET hire_round = COALESCE((
    SELECT MAX(d.hire_round) FROM deliveries d
    WHERE d.tenant = onboarding_writes.tenant
      AND d.candidate_id = onboarding_writes.candidate_id
      AND d.job_id = onboarding_writes.job_id
      AND d.event_type = 'application.hired'
      AND ((d.state = 'delivered' AND d.delivered_at <= onboarding_writes.written_at)
           OR (d.state = 'rejected' AND d.updated_at <= onboarding_writes.written_at))
), 1)
"""


def upgrade() -> None:
    op.add_column(
        "onboarding_writes",
        sa.Column("hire_round", sa.Integer(), nullable=False, server_default="1"),
    )
    op.execute(DERIVE)


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL), as 0009 does.
    op.execute("ALTER TABLE onboarding_writes DROP COLUMN hire_round")
