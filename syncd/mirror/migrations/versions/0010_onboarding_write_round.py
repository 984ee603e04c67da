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

Rehires a sink saw before 0008 are derived from the outbox (``changes`` is never pruned).
Before 0008 a sink that cannot revoke (BambooHR, Personio) recorded no revocation, and at any
sink a hire after a revocation collided with the first hire's key: neither left a delivery, so
those rehires were never sent and a later one was not seen as a new round. For each sink and
each application whose only hire delivery is a settled round 1, the application's own ``hired``
and ``hire_revoked`` records between that hire and the sink's cursor are replayed with the
dispatcher's round rule (a hire after a revocation is the next round) and what is missing is
recorded: revocations as ``skipped`` (the target was not told; it could not be, or the hire
after it supersedes it), each superseded round's hire as ``skipped``, and the latest round's
hire as ``pending`` when the application is hired again at the end, so the next push sends it
(the dispatcher still skips it if SmartRecruiters no longer shows the hire, and a sink's lookup
before create matches a person already there). Not derived: revocations that came as a
candidate deletion or a withdrawn offer (their records name the candidate or the offer, not the
application), and a round 1 still open (it is sent as the live hire).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 22:20:00.000000
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

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


HIRED = "application.hired"
REVOKED = "application.hire_revoked"
SETTLED = ("delivered", "rejected", "dead", "skipped")
WHY_REVOKED = (
    "hire revoked in SmartRecruiters before hire rounds were kept (recorded by migration 0010); "
    "the target was not told"
)
WHY_SUPERSEDED = "a later round of this hire was made before it was sent (migration 0010)"
INSERT = """
INSERT INTO deliveries (tenant, sink, delivery_id, event_type, candidate_id, job_id, sequence,
    state, attempts, reason, hire_round, created_at, updated_at)
VALUES (:tenant, :sink, :delivery_id, :event_type, :candidate_id, :job_id, :sequence,
    :state, 0, :reason, :hire_round, :now, :now)
ON CONFLICT DO NOTHING
"""


def replay(events: list[tuple[int, str]], revoked_at: int | None) -> list[tuple[str, int, int]]:
    """The deliveries the dispatcher's round rule makes of an application's ``events``
    ((sequence, "hired" | "hire_revoked"), in order, after its round-1 hire), starting at
    round 1; ``revoked_at``: the sequence of a round-1 revocation already recorded. Returns
    (event type, round, sequence) for each."""
    marks = [(seq, kind) for seq, kind in events]
    if revoked_at is not None:
        marks.append((revoked_at, "hire_revoked"))
    n, undone = 1, False
    out: list[tuple[str, int, int]] = []
    for seq, kind in sorted(set(marks)):
        if kind == "hire_revoked" and not undone:
            undone = True
            out.append((REVOKED, n, seq))
        elif kind == "hired" and undone:
            n, undone = n + 1, False
            out.append((HIRED, n, seq))
    return out


def derive_rounds(conn: sa.Connection) -> int:
    """Record the rounds the outbox shows for hires made before 0008 (module docstring).
    Returns the number of deliveries inserted."""
    now = datetime.now(UTC).replace(tzinfo=None)
    inserted = 0
    cursors = conn.execute(sa.text("SELECT tenant, sink, sequence FROM sink_cursors")).all()
    for tenant, sink, cursor in cursors:
        apps: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        rows = conn.execute(
            sa.text(
                "SELECT candidate_id, job_id, event_type, hire_round, sequence, state, "
                "created_at FROM deliveries WHERE tenant = :t AND sink = :s"
            ),
            {"t": tenant, "s": sink},
        ).all()
        for r in rows:
            a = apps[(r.candidate_id, r.job_id)]
            a["top"] = max(a.get("top", 0), int(r.hire_round))
            if r.event_type == HIRED and r.hire_round == 1:
                a["hire"] = r
            elif r.event_type == REVOKED and r.hire_round == 1:
                a["revoked_at"] = r.sequence
        # Applications whose only round is a settled round 1: the ones 0008 may have missed.
        todo = {
            k: a
            for k, a in apps.items()
            if a.get("top") == 1 and "hire" in a and a["hire"].state in SETTLED
        }
        if not todo:
            continue
        events: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        changes = conn.execute(
            sa.text(
                "SELECT sequence, record_key, kind, occurred_at FROM changes "
                "WHERE tenant = :t AND resource = 'applications' "
                "AND kind IN ('hired', 'hire_revoked') AND sequence <= :cursor "
                "ORDER BY sequence"
            ),
            {"t": tenant, "cursor": cursor},
        )
        for seq, record_key, kind, recorded in changes:
            cid, _, jid = str(record_key).partition("/")
            app = todo.get((cid, jid))
            if app is None:
                continue
            hire = app["hire"]
            # After the round-1 hire: its outbox record, or (a `start` backlog, no record) the
            # time it was queued.
            after = seq > hire.sequence if hire.sequence is not None else recorded > hire.created_at
            if after:
                events[(cid, jid)].append((int(seq), str(kind)))
        for key, a in todo.items():
            made = replay(events.get(key, []), a.get("revoked_at"))
            if not made:
                continue
            last_round = max(n for t, n, _ in made)
            live = made[-1][0] == HIRED  # hired again at the end: that round is sent
            for event_type, n, seq in made:
                pending = event_type == HIRED and live and n == last_round
                reason = (
                    None if pending else WHY_REVOKED if event_type == REVOKED else WHY_SUPERSEDED
                )
                done = conn.execute(
                    sa.text(INSERT),
                    {
                        "tenant": tenant,
                        "sink": sink,
                        "delivery_id": "msg_" + uuid.uuid4().hex,
                        "event_type": event_type,
                        "candidate_id": key[0],
                        "job_id": key[1],
                        "sequence": seq,
                        "state": "pending" if pending else "skipped",
                        "reason": reason,
                        "hire_round": n,
                        "now": now,
                    },
                )
                inserted += int(done.rowcount or 0)
    return inserted


def upgrade() -> None:
    op.add_column(
        "onboarding_writes",
        sa.Column("hire_round", sa.Integer(), nullable=False, server_default="1"),
    )
    op.execute(DERIVE)
    derive_rounds(op.get_bind())


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL), as 0009 does.
    op.execute("ALTER TABLE onboarding_writes DROP COLUMN hire_round")
