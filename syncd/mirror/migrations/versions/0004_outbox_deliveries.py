"""The outbox ready for consumers, and the push side's state: a sequence that is never reused,
each sink's cursor, a delivery per hire and sink, syncd's onboarding-status writes, and notices
reported once per tenant.

SQLite hands an ``INTEGER PRIMARY KEY`` the largest value + 1, so a pruned outbox would give 1
again; ``AUTOINCREMENT`` keeps the highest number ever used (``sqlite_sequence``). The table is
rebuilt with the rows and numbers it holds. PostgreSQL's identity sequence never goes back.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29 12:40:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _serial() -> sa.types.TypeEngine[Any]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "changes", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_table(
        "sink_cursors",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("sink", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("start", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "sink", name="pk_sink_cursors"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("sink", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("external_key", sa.String(length=160), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", _json(), nullable=True),
        sa.Column("target_id", sa.String(length=160), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("sink_status", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint(
            "tenant", "sink", "candidate_id", "job_id", "event_type", name="uq_deliveries_key"
        ),
        sa.UniqueConstraint("delivery_id", name="uq_deliveries_delivery_id"),
    )
    op.create_index("ix_deliveries_state", "deliveries", ["tenant", "sink", "state", "id"])
    op.create_index("ix_deliveries_person", "deliveries", ["tenant", "sink", "candidate_id"])
    op.create_table(
        "onboarding_writes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "candidate_id", "job_id", name="pk_onboarding_writes"),
    )
    op.create_table(
        "push_notices",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "code", name="pk_push_notices"),
    )


def downgrade() -> None:
    op.drop_table("push_notices")
    op.drop_table("onboarding_writes")
    op.drop_index("ix_deliveries_person", table_name="deliveries")
    op.drop_index("ix_deliveries_state", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("sink_cursors")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "changes", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
