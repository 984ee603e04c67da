"""The webhook inbox (table ``webhook_inbox``, migration 0007): SmartRecruiters callbacks any
replica of ``syncd run`` accepted for a tenant, waiting for the tenant's leader, and the
event-ids every replica checks for replays. docs/daemon.md, "Webhook inbox".

- ``accept``: one INSERT whose primary key (tenant, event-id) is the replay check itself: two
  replicas given the same delivery at the same moment cannot both accept it. Every accepted
  callback is stored, the leader's own too (on SQLite as on PostgreSQL), so a leader killed
  before its refresh leaves it for its restart or the next leader. A row to drain is
  announced with ``pg_notify(CHANNEL, tenant)`` in the same transaction (PostgreSQL delivers it
  at commit, so the leader never wakes before the row is visible).
- ``pending`` / ``mark_done``: the leader reads what waits and marks it done in the transaction
  that writes the refreshed records (at-least-once: a crash before that commit leaves the rows).
- ``prune``: done rows older than the replay window go (a replay older than that fails the
  timestamp check anyway).
- ``expire``: a callback still waiting long after it arrived (its record's refresh keeps
  failing) is given up, so one bad record is not fetched again every few seconds for ever; the
  pull passes, the safety net, have read its change since.
- ``InboxListener``: ``LISTEN`` on a connection of its own (psycopg's asyncio connection), so
  the leader drains within milliseconds; the caller polls too, for notifications lost while the
  listener reconnects.

What is stored: event name, resource and record id (the ids SmartRecruiters put in the body),
never the body itself: no personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from syncd.mirror import schema as s
from syncd.mirror.db import normalize_url
from syncd.mirror.store import utcnow

log = structlog.get_logger("syncd.mirror")

CHANNEL = "syncd_inbox"
EVENT_ID_MAX = 128  # the column's length; SmartRecruiters' event-ids are UUIDs


@dataclass(frozen=True)
class Waiting:
    """One accepted callback waiting for the leader: what to refresh."""

    event_id: str
    resource: str
    record_id: str


class InboxBusy(Exception):
    """SQLite: another transaction of the file held its write lock for longer than the accept
    may wait (a pass's write group stays open up to ``GROUP_SECONDS`` while it fetches pages)."""


def accept(
    engine: Engine,
    tenant: str,
    event_id: str,
    event_name: str,
    target: tuple[str, str] | None,
    *,
    waiting: bool,
    wait_seconds: float | None = None,
) -> bool:
    """Record a verified callback (blocking). ``target``: (resource, id) to refresh, or None for
    an event syncd does not mirror; ``waiting``: True leaves it for the leader to drain (and
    notifies the replicas on PostgreSQL), False records it done at once. ``wait_seconds``
    (SQLite): the longest wait for the file's write lock, instead of the connection's busy
    timeout (60 s), so that a callback is answered within SmartRecruiters' 5 s.
    Returns False, writing nothing, when the event-id was accepted before (a replay). Raises
    ``InboxBusy`` when SQLite's write lock was not had within ``wait_seconds``, else the
    database's errors."""
    with engine.connect() as conn:
        if wait_seconds is None or conn.dialect.name != "sqlite":
            return _accept(conn, tenant, event_id, event_name, target, waiting)
        before = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {max(1, int(wait_seconds * 1000))}")
        conn.commit()  # SQLAlchemy's autobegun transaction: the insert begins its own
        try:
            return _accept(conn, tenant, event_id, event_name, target, waiting)
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise InboxBusy() from None
            raise
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {before}")  # the pool's connection
            conn.commit()


def _accept(
    conn: Connection,
    tenant: str,
    event_id: str,
    event_name: str,
    target: tuple[str, str] | None,
    waiting: bool,
) -> bool:
    t = s.webhook_inbox
    now = utcnow()
    row = {
        "tenant": tenant,
        "event_id": event_id,
        "event_name": event_name[:128],
        "resource": target[0] if target else None,
        "record_id": target[1] if target else None,
        "received_at": now,
        "done_at": None if waiting and target else now,
    }
    with conn.begin():
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(t)
            .values(row)
            .on_conflict_do_nothing(index_elements=["tenant", "event_id"])
            .returning(t.c.event_id)
        )
        if conn.execute(stmt).first() is None:
            return False
        if waiting and target and conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_notify(:c, :t)"), {"c": CHANNEL, "t": tenant})
    return True


def pending(engine: Engine, tenant: str, limit: int) -> list[Waiting]:
    """Up to ``limit`` callbacks waiting for ``tenant``'s leader, oldest first (blocking)."""
    t = s.webhook_inbox
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.event_id, t.c.resource, t.c.record_id)
            .where(t.c.tenant == tenant, t.c.done_at.is_(None), t.c.resource.is_not(None))
            .order_by(t.c.received_at, t.c.event_id)
            .limit(limit)
        ).all()
    return [Waiting(str(e), str(r), str(i)) for e, r, i in rows]


def mark_done(conn: Connection, tenant: str, event_ids: Sequence[str]) -> int:
    """Mark callbacks done inside the caller's transaction (the one writing what they named);
    returns how many were still waiting."""
    t = s.webhook_inbox
    n = 0
    for i in range(0, len(event_ids), 500):  # under every driver's bind-parameter limit
        chunk = list(event_ids[i : i + 500])
        n += conn.execute(
            update(t)
            .where(t.c.tenant == tenant, t.c.event_id.in_(chunk), t.c.done_at.is_(None))
            .values(done_at=utcnow())
        ).rowcount
    return n


def marker(tenant: str, event_ids: Sequence[str]) -> Callable[[Connection], None]:
    """``mark_done`` for these callbacks, as the refresh's ``also`` (run in its write)."""
    ids = list(event_ids)

    def also(conn: Connection) -> None:
        mark_done(conn, tenant, ids)

    return also


def backlog(conn: Connection, tenant: str) -> int:
    """Callbacks of ``tenant`` waiting for its leader."""
    t = s.webhook_inbox
    n = conn.execute(
        select(func.count()).where(
            t.c.tenant == tenant, t.c.done_at.is_(None), t.c.resource.is_not(None)
        )
    ).scalar_one()
    return int(n)


def waiting_status(conn: Connection, tenant: str) -> dict[str, object]:
    """``{"waiting": N, "oldest": ISO 8601 UTC or None}``: callbacks of ``tenant`` waiting for
    its leader, and when the oldest of them arrived (``syncd status``)."""
    t = s.webhook_inbox
    n, oldest = conn.execute(
        select(func.count(), func.min(t.c.received_at)).where(
            t.c.tenant == tenant, t.c.done_at.is_(None), t.c.resource.is_not(None)
        )
    ).one()
    return {
        "waiting": int(n),
        "oldest": oldest.strftime("%Y-%m-%dT%H:%M:%SZ") if oldest is not None else None,
    }


def expire(engine: Engine, tenant: str, older_than_seconds: float) -> int:
    """Give up callbacks of ``tenant`` still waiting ``older_than_seconds`` (s) after they
    arrived: marked done unrefreshed (blocking). Returns how many."""
    t = s.webhook_inbox
    before: datetime = utcnow() - timedelta(seconds=older_than_seconds)
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(t)
                .where(
                    t.c.tenant == tenant,
                    t.c.done_at.is_(None),
                    t.c.resource.is_not(None),
                    t.c.received_at < before,
                )
                .values(done_at=utcnow())
            ).rowcount
        )


def prune(engine: Engine, tenant: str, keep_seconds: float) -> int:
    """Delete done rows received more than ``keep_seconds`` ago (blocking); returns how many."""
    t = s.webhook_inbox
    before: datetime = utcnow() - timedelta(seconds=keep_seconds)
    with engine.begin() as conn:
        return int(
            conn.execute(
                t.delete().where(
                    t.c.tenant == tenant, t.c.done_at.is_not(None), t.c.received_at < before
                )
            ).rowcount
        )


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL of a PostgreSQL mirror as libpq takes it (``postgresql://``, query
    options such as ``options=-csearch_path=…`` kept)."""
    parsed = make_url(normalize_url(url)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class InboxListener:
    """``LISTEN syncd_inbox`` on a connection of its own; ``on_notify(tenant)`` for each
    notification, in the event loop. ``run`` reconnects when the connection fails (after
    ``retry_seconds``, doubled after each failure up to ``RETRY_MAX_SECONDS``: a database away
    for long is logged twice a minute, not every two seconds) and ends when cancelled."""

    RETRY_MAX_SECONDS = 30.0

    def __init__(
        self, url: str, on_notify: Callable[[str], None], retry_seconds: float = 2.0
    ) -> None:
        self.conninfo = libpq_url(url)
        self.on_notify = on_notify
        self.retry_seconds = retry_seconds
        self.listening = asyncio.Event()  # set while LISTEN is in place (tests, logs)

    async def run(self) -> None:
        import psycopg

        from syncd.mirror.db import describe_db_error

        wait = self.retry_seconds
        failed = False
        while True:
            conn: psycopg.AsyncConnection[object] | None = None
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name="syncd inbox listener"
                )
                await conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                wait = self.retry_seconds
                if failed:
                    log.info("inbox_listener_up")
                    failed = False
                async for note in conn.notifies():
                    self.on_notify(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed = True
                log.warning("inbox_listener_down", error=describe_db_error(exc), retry_seconds=wait)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(wait)
            wait = min(wait * 2, self.RETRY_MAX_SECONDS)
