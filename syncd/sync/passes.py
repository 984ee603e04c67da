"""Bookkeeping of a pass: its counts and report, the write transaction that spans a few pages,
and the page prefetch that overlaps the next request with the current write."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from syncd.mirror.store import Mirror, UpsertResult, utcnow

ProgressFn = Callable[[str, int, int, int | None], None]  # resource, records, pages, total

# Pages per write transaction: each commit costs a WAL write of every index page touched, about
# as much as writing a page of audit events. A group commits after GROUP_PAGES pages or
# GROUP_SECONDS, whichever comes first, always with the checkpoint of its last page; a kill
# loses at most that much, fetched again by the rerun. 10 pages / 1 s -> 50 / 5 s: commits
# took 2.2 s -> 0.7 s of CPU in a 20k backfill of audit and candidates.
GROUP_PAGES = 50
GROUP_SECONDS = 5.0


class WriteGroup:
    """One write transaction spanning a few pages. Every page writes its rows and its
    checkpoint into it, so a commit makes both durable together; a SIGKILL loses only the
    uncommitted pages together with their checkpoint, and the rerun fetches them again."""

    def __init__(
        self,
        mirror: Mirror,
        *,
        pages: int,
        seconds: float = GROUP_SECONDS,
        on_commit: Callable[[Connection], None] | None = None,
    ) -> None:
        self.m = mirror
        # Written into the group's transaction just before each commit (the run row's counts):
        # what `syncd status` and /metrics show is what is committed, also after a kill.
        self.on_commit = on_commit
        self.max_pages = pages
        self.seconds = seconds
        self.conn: Connection | None = None
        self.txn: Any = None
        self.pages = 0
        self.opened = 0.0
        self.broken = False
        # The write runs in a worker thread; close() must not overlap it (a cancelled await
        # does not stop the thread).
        self.lock = threading.Lock()

    def connection(self) -> Connection:
        if self.conn is None:
            self.conn = self.m.engine.connect()
        if self.txn is None:
            self.txn = self.conn.begin()
            self.pages = 0
            self.opened = time.monotonic()
        return self.conn

    def page_written(self) -> None:
        self.pages += 1
        if self.pages >= self.max_pages or time.monotonic() - self.opened >= self.seconds:
            self._commit()

    def _commit(self) -> None:
        if self.on_commit is not None and self.conn is not None:
            self.on_commit(self.conn)
        self.txn.commit()
        self.txn = None

    def close(self) -> None:
        with self.lock:
            try:
                if self.txn is not None:
                    if self.broken:
                        self.txn.rollback()
                    else:
                        self._commit()
            finally:
                self.txn = None
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None


@dataclass
class Counts:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    api_calls: int = 0
    errors: int = 0

    def add(self, r: UpsertResult) -> None:
        self.inserted += len(r.inserted)
        self.updated += len(r.updated)
        self.unchanged += len(r.unchanged)


@dataclass
class PassReport:
    resource: str
    mode: str
    status: str
    cursor_used: datetime | None
    started_at: datetime
    resumed: bool = False  # the pass an earlier run left, continued from its checkpoint
    ended_at: datetime | None = None
    counts: Counts = field(default_factory=Counts)
    pages: int = 0
    retries: int = 0  # API requests retried during this run of the pass (429, 5xx, timeouts)
    error: str | None = None
    # When this run took the pass up: a resumed pass keeps the original ``started_at`` (its
    # cursor is computed from it) but reports only its own time.
    run_started_at: datetime = field(default_factory=utcnow)
    # Why the walk could not prove it saw every record (status "incomplete"), else None.
    incomplete: str | None = None
    # What this run did with a pass an earlier run left (resumed it, or found it finished).
    note: str | None = None
    # Its sync_runs row and the client's call count when it began: the row's counts are
    # updated with each committed write group (``Engine._progress``).
    run_row: int | None = None
    calls_at_start: int = 0
    # Page tokens the API refused during this run of the pass (400 INVALID_PAGE_ID).
    tokens_rejected: int = 0

    @property
    def seconds(self) -> float:
        end = self.ended_at or utcnow()
        return (end - self.run_started_at).total_seconds()


class PassesFailed(Exception):
    """Passes of one job that failed while its other passes still ran (``Engine.run``).
    ``reports``: every pass of the job in order, the failed ones with status ``failed``;
    ``failures``: (resource, the exception its pass raised), in order; ``calls``: API calls the
    job spent (set by ``syncd.sync.runner.run_job``). ``str()`` names each failed resource with
    its error (API errors in full: method, path, status and codes; any other error by its type
    only, since its message may quote a value)."""

    def __init__(self, reports: list[PassReport], failures: list[tuple[str, Exception]]) -> None:
        self.reports = reports
        self.failures = failures
        self.calls = 0
        each = "; ".join(f"{name}: {safe_error(exc)}" for name, exc in failures)
        super().__init__(f"{len(failures)} of {len(reports)} passes failed ({each})")


def safe_error(exc: BaseException) -> str:
    """``exc`` for a log or a message: the SmartRecruiters client's errors and syncd's own
    checkpoint errors in full (they name requests and codes, never a record), others by type."""
    from syncd.ats.errors import AtsError
    from syncd.sync.checkpoints import PageTokensRefused

    if isinstance(exc, AtsError | PageTokensRefused):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def naive(dt: datetime | None) -> datetime | None:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt is not None and dt.tzinfo else dt


async def to_the_end(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a worker thread, awaited to its end even when the caller is cancelled
    meanwhile (then CancelledError is raised once it ended). For what releases a database
    lock (``WriteGroup.close``): ``asyncio.to_thread`` cancelled before its worker started
    never runs ``fn`` at all, and a write transaction left open holds SQLite's file lock until
    the busy timeout: the pass's own ``finish_run`` then blocked the event loop and a stop ran
    into its forced exit (a SIGTERM during the first passes, cancelled twice)."""
    work = asyncio.ensure_future(asyncio.to_thread(fn))
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(work)
        except asyncio.CancelledError:
            if work.done():
                raise  # the work itself was cancelled (it never is but by a loop closing)
            cancelled = True  # the caller: wait for the thread all the same
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


async def prefetched(pages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Yield the pages of ``pages`` with the request for the next one already running while the
    caller works on the current one. Never more than one page ahead."""
    it = aiter(pages)
    nxt: asyncio.Future[Any] = asyncio.ensure_future(anext(it))
    try:
        while True:
            try:
                page = await nxt
            except StopAsyncIteration:
                return
            nxt = asyncio.ensure_future(anext(it))
            yield page
    finally:
        if not nxt.done():
            nxt.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await nxt
        elif not nxt.cancelled():
            nxt.exception()  # retrieved: a prefetch that failed after the caller stopped is moot
