"""``deliveries.next_attempt_at``: when a delivery whose last attempt failed (429, 5xx, timeout,
401/403) is due again. Retries are scheduled across push passes instead of slept inside one
(docs/push.md, "Retries"); NULL means due now.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 19:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default) on both databases: SQLite needs no table copy,
    # so the report_deliveries view that reads the table stays as it is.
    op.add_column("deliveries", sa.Column("next_attempt_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL): a batch table copy would trip over the
    # report_deliveries view.
    op.execute("ALTER TABLE deliveries DROP COLUMN next_attempt_at")
