"""The webhook inbox: callbacks any replica accepted, waiting for the tenant's leader to refresh
what they name, and the event-ids every replica checks for replays (docs/daemon.md, "Webhook
inbox"). Event type, resource and id only: no callback body, no personal data.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_name", sa.String(length=128), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "event_id", name="pk_webhook_inbox"),
    )
    op.create_index("ix_webhook_inbox_open", "webhook_inbox", ["tenant", "done_at", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_open", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
