"""The webhook inbox's SQL (``syncd.mirror.inbox``), alike on SQLite and PostgreSQL: the
event-id is the replay record (a second accept of it writes nothing), a waiting callback is
listed for the leader until the transaction that refreshes it commits (a rolled-back refresh
leaves it: at-least-once), events syncd does not mirror are recorded done, done rows are pruned
past the replay window."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from syncd.mirror import inbox
from syncd.mirror import schema as s

T = "acme"


class Boom(Exception):
    pass


def test_accept_replay_drain_and_prune(db: Engine) -> None:
    hire = ("applications", "c-1/j-1")
    assert inbox.accept(db, T, "e-1", "application.status.updated", hire, waiting=True)
    # The same delivery again (to this replica or another): refused, nothing written.
    assert not inbox.accept(db, T, "e-1", "application.status.updated", hire, waiting=True)
    # An event syncd does not mirror: kept as a replay record only, never listed.
    assert inbox.accept(db, T, "e-2", "candidate.deleted.gdpr", None, waiting=True)
    assert not inbox.accept(db, T, "e-2", "candidate.deleted.gdpr", None, waiting=True)
    # The leader's own callback: recorded done at once (it refreshes it itself).
    assert inbox.accept(db, T, "e-3", "job.updated", ("jobs", "j-1"), waiting=False)
    # Another tenant's event-id space is its own.
    assert inbox.accept(db, "other", "e-1", "job.updated", ("jobs", "j-9"), waiting=True)

    assert inbox.pending(db, T, 10) == [inbox.Waiting("e-1", "applications", "c-1/j-1")]
    with db.connect() as conn:
        assert inbox.backlog(conn, T) == 1
        st = inbox.waiting_status(conn, T)
    assert st["waiting"] == 1 and isinstance(st["oldest"], str)

    # A refresh whose transaction rolls back leaves the callback waiting.
    with pytest.raises(Boom), db.begin() as conn:
        inbox.marker(T, ["e-1"])(conn)
        raise Boom
    assert [w.event_id for w in inbox.pending(db, T, 10)] == ["e-1"]
    with db.begin() as conn:
        inbox.marker(T, ["e-1"])(conn)
    assert inbox.pending(db, T, 10) == []
    with db.connect() as conn:
        assert inbox.backlog(conn, T) == 0
        assert inbox.waiting_status(conn, T) == {"waiting": 0, "oldest": None}
        assert inbox.backlog(conn, "other") == 1

    # Done rows inside the replay window stay (they refuse replays); older ones go.
    assert inbox.prune(db, T, keep_seconds=600) == 0
    assert inbox.prune(db, T, keep_seconds=0) == 3
    with db.connect() as conn:
        left = conn.execute(select(s.webhook_inbox.c.tenant, s.webhook_inbox.c.event_id)).all()
    assert [tuple(r) for r in left] == [("other", "e-1")]  # waiting rows are never pruned
