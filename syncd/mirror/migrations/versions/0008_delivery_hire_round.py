"""Deliveries per hire, not per application: ``hire_round`` (1 for an application's first hire at
a sink, 2 after it was revoked and the person hired again, …) joins the deliveries' unique key,
so a rehire gets its own delivery instead of colliding with the first one. Exactly once per hire
event still holds: the same hire seen twice (a sweep, a replayed outbox page) has the same round.

``report_deliveries`` (0006) reads ``deliveries``; SQLite rebuilds the table to change its unique
key, so the view is dropped first and made again, unchanged, after.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:15:00.000000
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = ("tenant", "sink", "candidate_id", "job_id", "event_type")


def _view() -> str:
    # The module's name starts with a digit: imported by name, the view's SQL kept in one place.
    return str(
        importlib.import_module("syncd.mirror.migrations.versions.0006_report_deliveries").VIEW
    )


def upgrade() -> None:
    op.execute("DROP VIEW report_deliveries")
    with op.batch_alter_table("deliveries") as b:
        b.add_column(sa.Column("hire_round", sa.Integer(), nullable=False, server_default="1"))
        b.drop_constraint("uq_deliveries_key", type_="unique")
        b.create_unique_constraint("uq_deliveries_key", [*KEY, "hire_round"])
    op.execute(f"CREATE VIEW report_deliveries AS {_view()}")


def downgrade() -> None:
    op.execute("DROP VIEW report_deliveries")
    # Rounds after the first have no place under the old key.
    op.execute("DELETE FROM deliveries WHERE hire_round > 1")
    with op.batch_alter_table("deliveries") as b:
        b.drop_constraint("uq_deliveries_key", type_="unique")
        b.create_unique_constraint("uq_deliveries_key", list(KEY))
        b.drop_column("hire_round")
    op.execute(f"CREATE VIEW report_deliveries AS {_view()}")
