"""The webhook inbox's SQL (``syncd.mirror.inbox``), alike on SQLite and PostgreSQL: the
event-id is the replay record (a second accept of it writes nothing), a waiting callback is
listed for the leader until the transaction that refreshes it commits (a rolled-back refresh
leaves it: at-least-once), events syncd does not mirror are recorded done, done rows are pruned
past the replay window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from syncd.mirror import inbox
from syncd.mirror import schema as s
from syncd.mirror.store import utcnow

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
    # A callback recorded done at once (nothing left to drain).
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


def test_accept_waits_a_bounded_time_for_sqlites_write_lock(db: Engine) -> None:
    """Another transaction writing (a pass's write group holds the file's write lock for up to
    GROUP_SECONDS): on SQLite an accept gives up after ``wait_seconds`` with ``InboxBusy``,
    writing nothing, and leaves the pooled connection's busy timeout as it was; once the lock is
    free it is stored. PostgreSQL writes beside the other transaction."""
    import time

    hire = ("applications", "c-1/j-1")
    with db.connect() as other:
        other.begin()
        other.execute(
            s.webhook_inbox.insert().values(
                tenant="other", event_id="held", event_name="job.updated", received_at=utcnow()
            )
        )
        started = time.monotonic()
        if db.dialect.name == "sqlite":
            with pytest.raises(inbox.InboxBusy):
                inbox.accept(db, T, "e-1", "x", hire, waiting=True, wait_seconds=0.3)
            assert 0.3 <= time.monotonic() - started < 2
        else:
            assert inbox.accept(db, T, "e-1", "x", hire, waiting=True, wait_seconds=0.3)
        other.rollback()
    if db.dialect.name == "sqlite":
        assert inbox.pending(db, T, 10) == []
        with db.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
        assert inbox.accept(db, T, "e-1", "x", hire, waiting=True, wait_seconds=0.3)
    assert inbox.pending(db, T, 10) == [inbox.Waiting("e-1", "applications", "c-1/j-1")]


def test_drain_refreshes_the_rest_when_one_record_fails(db: Engine) -> None:
    """The leader's drain over the real inbox: a malformed id (stored before intake refused
    them) is marked done without a refresh; a resource whose batch fails is refreshed one record
    at a time, so the good records' callbacks are marked done in their own writes and only the
    failing one stays waiting; the first failure is raised afterwards (the drain loop counts it
    and retries). The refresh is a stand-in that refuses one record, as the mapping may, and
    marks the callbacks done in its transaction as ``Daemon.refresh`` does."""
    import asyncio
    from types import SimpleNamespace
    from typing import Any

    from syncd.config import ScheduleSettings, WebhooksSettings
    from syncd.daemon.hooks_in import HookIntake
    from syncd.logging import configure_logging

    configure_logging("warning", "json")  # this test's stderr (another test's may be closed)

    good1, good2 = "00279b73-b774-4ae2-9a64-ded6ed81fe60", "1b35411b-7272-4b9c-af44-c0d53ee4da5a"
    poison = "5d1b5a0e-4f7e-4b8e-9c8a-1d0c8f0e2b11"
    waiting = [("e-1", good1), ("e-2", poison), ("e-3", "bad/id"), ("e-4", good2), ("e-5", good1)]
    for event, ident in waiting:
        assert inbox.accept(db, T, event, "candidate.updated", ("candidates", ident), waiting=True)
    runs: list[list[str]] = []
    expired: list[tuple[str, int]] = []

    async def refresh(name: str, ids: list[str], also: Any = None) -> None:
        runs.append(list(ids))
        if poison in ids:
            raise Boom
        with db.begin() as conn:
            also(conn)

    daemon = SimpleNamespace(
        settings=SimpleNamespace(webhooks=WebhooksSettings(), schedule=ScheduleSettings()),
        observer=SimpleNamespace(inbox_expired=lambda tenant, n: expired.append((tenant, n))),
        db=db,
        tenant=T,
        role="leader",
        stopping=False,
        refresh=refresh,
    )
    intake = HookIntake(daemon)
    with pytest.raises(Boom):
        asyncio.run(intake.drain())
    assert runs == [[good1, poison, good2], [good1], [poison], [good2]]
    assert inbox.pending(db, T, 10) == [inbox.Waiting("e-2", "candidates", poison)]
    assert intake.refreshed == 2

    # Still failing an hour later: given up (counted), not fetched again.
    t = s.webhook_inbox
    with db.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.event_id == "e-2")
            .values(received_at=utcnow() - timedelta(hours=1, seconds=1))
        )
    runs.clear()
    assert asyncio.run(intake.drain()) is False
    assert (runs, expired, inbox.pending(db, T, 10)) == ([], [(T, 1)], [])


def test_callbacks_waiting_past_the_give_up_age_expire(db: Engine) -> None:
    """A callback whose refresh kept failing is given up (marked done, unrefreshed) once it has
    waited past the age asked; younger ones, other tenants' and replay-only rows are left."""
    assert inbox.accept(db, T, "old", "candidate.updated", ("candidates", "c-1"), waiting=True)
    assert inbox.accept(db, T, "new", "candidate.updated", ("candidates", "c-2"), waiting=True)
    assert inbox.accept(db, T, "gdpr", "candidate.deleted.gdpr", None, waiting=True)
    assert inbox.accept(db, "other", "old", "job.updated", ("jobs", "j-1"), waiting=True)
    t = s.webhook_inbox
    hour_ago = utcnow() - timedelta(hours=1, seconds=1)
    with db.begin() as conn:
        conn.execute(
            t.update().where(t.c.event_id.in_(["old", "gdpr"])).values(received_at=hour_ago)
        )
    assert inbox.expire(db, T, older_than_seconds=3600) == 1
    assert inbox.pending(db, T, 10) == [inbox.Waiting("new", "candidates", "c-2")]
    assert [w.event_id for w in inbox.pending(db, "other", 10)] == ["old"]
    assert inbox.expire(db, T, older_than_seconds=3600) == 0  # given up once
    # The expired callback still refuses its replay.
    assert not inbox.accept(db, T, "old", "candidate.updated", ("candidates", "c-1"), waiting=True)
