"""The poller engine: one pass per catalogue resource, page by page, then the pass's follow-ups.

Per page, in one transaction: the page's rows (hash-compared upserts), their outbox records, any
quarantined records and the checkpoint (the paginator's position after the page, highest cursor
value seen). A transaction holds up to the resource's ``write_group`` consecutive pages (each
with its checkpoint, and the pass's counts so far on its ``sync_runs`` row); a killed run resumes at
the last committed page of the same pass, and ``syncd status`` shows what it committed. A record the
database refuses is quarantined alone (``syncd.mirror.isolate``); the rest of its page is written.

When the walk ends the checkpoint becomes the follow-ups phase (``syncd.sync.checkpoints``), and
each finished follow-up is added to it: a killed pass resumes at the follow-up it was in. At the
end of a complete pass the cursor becomes ``pass start - lag window``. A walk that cannot prove it
saw every record (the paginator's checks) ends the pass ``incomplete``: no sweep, the cursor stays
where it was, and the next pass walks again.

A pass without a cursor (backfill, sweep, or first run) is complete when its walk is: it bumps
``last_seen_at`` of every record it lists and, when it ends, tombstones the records it did not
see. A backfill remembers which resources it finished (``syncd.sync.backfills``): a backfill run
after a kill resumes the pass it was in and gives the finished ones an incremental pass only.

A page token the API refuses (400 ``INVALID_PAGE_ID``: a checkpoint's token the server no longer
knows after a restart of its side, or one that expired) does not stall the pass: the walk
restarts from its first page with the pass's cursor (a full pass: from the beginning), once per
resource and run, and only what the restarted walk lists counts as seen by a sweep
(``checkpoints.WalkCheckpoint.seen_from``). Refused again in the same run, the resource fails
(``checkpoints.PageTokensRefused``). A resource whose pass fails is recorded ``failed`` and the
job's other resources still run; ``run`` then raises ``PassesFailed`` with every report.
Failures that are not one resource's (a refused credential, the mirror database) end the job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from syncd.ats.errors import AuthenticationError, BadRequestError
from syncd.ats.paging import Position, Walk
from syncd.mirror.db import describe_db_error, driver_error, transient_db_error
from syncd.mirror.isolate import in_savepoint, keep_seen, quarantined_keys, write_isolated
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import utcnow
from syncd.sync import backfills
from syncd.sync import checkpoints as ck
from syncd.sync.applications import ApplicationsMixin
from syncd.sync.approvals import ApprovalsMixin
from syncd.sync.audit import AuditMixin
from syncd.sync.catalogue import BY_NAME, CATALOGUE, Resource, flags_of, followup_order
from syncd.sync.changes import change_records
from syncd.sync.children import ChildrenMixin, page_children
from syncd.sync.interviews import InterviewsMixin
from syncd.sync.offers import OffersMixin
from syncd.sync.passes import (
    Counts,
    PassesFailed,
    PassReport,
    ProgressFn,
    WriteGroup,
    aware,
    naive,
    prefetched,
    to_the_end,
)

log = structlog.get_logger("syncd.sync")

TRANSIENT_TRIES = 5  # runs of a pass the database rolled back for a deadlock (syncd.mirror.db)
TRANSIENT_WAIT_SECONDS = 1.0  # before the second run; doubled before each next one (1+2+4+8 s)
STATS_FIRST = 2000  # records into a pass when planner statistics are first refreshed
# Test-only: "RESOURCE:PHASE" (phases: start, page, walked, <follow-up name>, ended) makes the
# process SIGKILL itself there, so that a test can stop a run at every phase boundary. Not a
# setting: it is named outside the SYNCD_ prefix on purpose.
KILL_AT = "SYNCDTEST_KILL_AT"


class Engine(
    AuditMixin, ApplicationsMixin, ChildrenMixin, OffersMixin, InterviewsMixin, ApprovalsMixin
):
    """One pass per catalogue resource; each part of the work lives in its mixin's module."""

    # ---- entry points -----------------------------------------------------------------------
    async def run(
        self,
        mode: str,
        resources: Sequence[str] | None = None,
        since: datetime | None = None,
        on_pass_ended: Callable[[PassReport], None] | None = None,
    ) -> list[PassReport]:
        """``mode``: backfill (complete pass, or from ``since``), incremental (from the cursor),
        sweep (complete pass that tombstones what it did not see). Raises
        ``checkpoints.UnreadableCheckpoint`` before any call when a pass in progress has a
        checkpoint this syncd cannot read.

        ``on_pass_ended`` is called with each pass's report as that pass ends (its sync_runs row
        already finished), before the next pass starts: the daemon's /metrics count a pass when
        the mirror records it, not when the run's last resource is done."""
        names = list(resources or [r.name for r in CATALOGUE])
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise ValueError(f"unknown resource {unknown[0]!r}; choose from {', '.join(BY_NAME)}")
        self.audit_enabled = "audit" in names
        chosen = [r for r in CATALOGUE if r.name in names]
        with self.m.begin() as conn:
            for res in chosen:  # every checkpoint is read before the first call
                ck.load(res.name, res.paginator, self.m.state(conn, res.name)["pass_page"])
            plan: backfills.Plan | None
            if mode == "backfill":
                plan = backfills.plan(self.m, conn, names)
            else:  # a backfill pass this run resumes still counts for its backfill
                plan = backfills.current(self.m, conn)
        self.backfill = plan
        reports: list[PassReport] = []

        def ended(report: PassReport) -> None:
            reports.append(report)
            if on_pass_ended is not None:
                on_pass_ended(report)

        failures: list[tuple[str, Exception]] = []
        for res in chosen:
            try:
                await self._resource(res, mode, since, plan, ended)
            except Exception as exc:
                if job_wide(exc):
                    raise
                # One resource's failure (an API error, its page tokens refused): recorded
                # `failed` by its pass; the next resources still run.
                ended(self._failed_report(res, mode, exc))
                failures.append((res.name, exc))
        if failures:
            raise PassesFailed(reports, failures)
        return reports

    async def _resource(
        self,
        res: Resource,
        mode: str,
        since: datetime | None,
        plan: backfills.Plan | None,
        ended: Callable[[PassReport], None],
    ) -> None:
        """The passes of one resource in this run, each given to ``ended`` as it ends."""
        if mode == "backfill" and plan is not None and res.name in plan.done:
            # Finished earlier in the backfill this run resumes: only what changed since.
            report = await self._pass(res, "incremental")
            report.note = "backfill finished before the interruption; incremental pass"
        else:
            report = await self._pass(res, mode, since)
        ended(report)
        if report.resumed and report.status == "ok":
            # The resumed pass shows the tenant as it was when that pass began (records
            # changed since, behind its checkpoint, were not walked again): one more pass
            # from its new cursor brings the resource up to this run's start.
            catch_up = await self._pass(res, "incremental")
            catch_up.note = "changes since the resumed pass began"
            ended(catch_up)

    def _failed_report(self, res: Resource, mode: str, exc: Exception) -> PassReport:
        """The report of ``res``'s pass that raised ``exc`` (recorded ``failed`` by
        ``run_resource``), or one made here when it failed before it had a report."""
        last = self.last_report
        if last is not None and last.resource == res.name and last.status == "failed":
            return last
        now = utcnow()
        report = PassReport(res.name, mode, "failed", None, now, ended_at=now)
        report.error = describe_db_error(exc)
        report.counts.errors = 1
        return report

    async def _pass(self, res: Resource, mode: str, since: datetime | None = None) -> PassReport:
        """``run_resource``, run again from its checkpoint (up to ``TRANSIENT_TRIES`` times in
        all, waiting ``TRANSIENT_WAIT_SECONDS`` doubled each time) when the database rolled it
        back for a deadlock or a serialization failure: the failed run is recorded ``failed`` and
        the next one resumes the same pass. ``resource`` and ``run_id`` are bound to the log
        context for the pass: every line logged inside it (the client's retries included) names
        them."""
        with structlog.contextvars.bound_contextvars(resource=res.name, run_id=self.run_id):
            for attempt in range(1, TRANSIENT_TRIES + 1):
                try:
                    return await self.run_resource(res, mode, since)
                except Exception as exc:
                    if attempt == TRANSIENT_TRIES or not transient_db_error(exc):
                        raise
                    wait = TRANSIENT_WAIT_SECONDS * 2 ** (attempt - 1)
                    log.warning(
                        "pass_retried",
                        resource=res.name,
                        attempt=attempt,
                        wait_seconds=wait,
                        error=describe_db_error(exc),
                    )
                    # The other side of a deadlock is often a killed run's statement that the
                    # server finishes before it notices the client is gone: give it time to end.
                    await asyncio.sleep(wait)
            raise AssertionError("unreachable")

    async def run_resource(
        self, res: Resource, mode: str, since: datetime | None = None
    ) -> PassReport:
        calls0, retries0 = self.sr.calls, getattr(self.sr, "retries", 0)
        throttled0 = getattr(self.sr, "throttled", 0)
        with self.m.begin() as conn:
            st = self.m.state(conn, res.name)
        ckpt = ck.load(res.name, res.paginator, st["pass_page"])
        resumed = st["pass_mode"] is not None
        if resumed:
            cursor, started = st["pass_cursor"], st["pass_started_at"]
            mode = st["pass_mode"]
        else:
            started = utcnow()
            cursor = st["cursor"] if mode == "incremental" else naive(since)
        # Resumed from a checkpoint: a pass that never committed a page starts its walk afresh.
        report = PassReport(
            res.name, mode, "running", cursor, started, resumed=resumed and ckpt is not None
        )
        self.last_report = report
        if report.resumed:
            where = "its walk" if not isinstance(ckpt, ck.FollowUpsCheckpoint) else "follow-ups"
            report.note = f"resumed the interrupted {mode} pass at {where}"
        self.m.mark_interrupted(res.name)
        run_row = self.m.start_run(self.run_id, res.name, mode, cursor)
        report.run_row, report.calls_at_start = run_row, calls0
        log.info("pass_started", resource=res.name, mode=mode, cursor=cursor, resumed=resumed)
        try:
            if not resumed:
                with self.m.begin() as conn:
                    self.m.save_state(
                        conn,
                        res.name,
                        pass_mode=mode,
                        pass_cursor=cursor,
                        pass_started_at=started,
                        pass_max_seen=None,
                        pass_page=None,
                        pass_run_id=self.run_id,
                    )
            self._boundary(res, "start")
            if isinstance(ckpt, ck.FollowUpsCheckpoint):
                after = ckpt
            else:
                walk, seen_from = await self._walk(res, report, cursor, ckpt, st)
                after = ck.FollowUpsCheckpoint((), walk.incomplete, seen_from)
                with self.m.begin() as conn:
                    self.m.save_state(conn, res.name, pass_page=ck.dump(res.paginator, after))
                self._boundary(res, "walked")
            report.incomplete = after.incomplete
            full = cursor is None and after.incomplete is None
            await self._after_pass(res, report, after, full=full, started=started)
            report.status = "ok" if after.incomplete is None else "incomplete"
            report.error = after.incomplete
        except asyncio.CancelledError:
            # SIGTERM/SIGINT: the write group committed or rolled back on the way out; a
            # rerun resumes from the checkpoint.
            report.status = "interrupted"
            raise
        except Exception as exc:
            report.status = "failed"
            report.error = describe_db_error(exc)  # never a statement's parameters
            report.counts.errors += 1
            log.warning("pass_failed", resource=res.name, error=report.error)
            raise
        finally:
            report.ended_at = utcnow()
            report.counts.api_calls = self.sr.calls - calls0
            report.retries = getattr(self.sr, "retries", 0) - retries0
            c = dataclasses.asdict(report.counts)
            self.m.finish_run(run_row, status=report.status, error=report.error, **c)
            log.info(
                "pass_ended",
                resource=res.name,
                status=report.status,
                retries=report.retries,
                throttled=getattr(self.sr, "throttled", 0) - throttled0,
                **c,
            )
        if report.status == "incomplete":
            log.warning("pass_incomplete", resource=res.name, reason=report.error)
        self._boundary(res, "ended")
        return report

    def _progress(self, conn: Connection, report: PassReport) -> None:
        """The pass's counts so far onto its sync_runs row, in the transaction ``conn`` is about
        to commit (a write group, a finished follow-up): one UPDATE. API calls are the client's
        since the pass began, as ``finish_run`` records them."""
        if report.run_row is None:
            return
        c = dataclasses.asdict(report.counts)
        c["api_calls"] = self.sr.calls - report.calls_at_start
        self.m.run_progress(conn, report.run_row, **c)

    def _boundary(self, res: Resource, phase: str) -> None:
        """A phase boundary of ``res``'s pass: the test-only hook ``SYNCDTEST_KILL_AT`` kills
        the process here when it names it (``jobs:page`` after the walk's first page is
        written, ``jobs:page3`` after its third, ``jobs:walked`` ...)."""
        if self.kill_at is not None and self.kill_at == f"{res.name}:{phase}":
            log.warning("test_kill", at=self.kill_at)
            os.kill(os.getpid(), signal.SIGKILL)

    @property
    def kill_at(self) -> str | None:
        return os.environ.get(KILL_AT) or None

    # ---- the paged walk ---------------------------------------------------------------------
    async def _walk(
        self,
        res: Resource,
        report: PassReport,
        cursor: datetime | None,
        ckpt: ck.Checkpoint | None,
        resume: Row,
    ) -> tuple[Walk, datetime | None]:
        """Walk the listing from the checkpoint; returns the walk's outcome (complete or not)
        and when it restarted (``WalkCheckpoint.seen_from``; None: never). A page token the API
        refuses restarts the walk at the first page, once per resource and run; refused again,
        raises ``checkpoints.PageTokensRefused``."""
        start = ckpt.position if isinstance(ckpt, ck.WalkCheckpoint) else None
        seen_from = ckpt.seen_from if isinstance(ckpt, ck.WalkCheckpoint) else None
        max_seen: datetime | None = resume["pass_max_seen"] if start is not None else None
        while True:
            walk = Walk()
            try:
                await self._pages(res, report, cursor, start, max_seen, seen_from, walk)
                return walk, seen_from
            except BadRequestError:
                code = walk.token_rejected
                if code is None:
                    raise
                report.tokens_rejected += 1
                if res.name in self.tokens_restarted:
                    raise ck.PageTokensRefused(res.name, code) from None
                self.tokens_restarted.add(res.name)
            # The token is gone for good: what the walk wrote stays (upserted again by the
            # restarted walk), its position is discarded. The cursor stays the pass's (its last
            # committed one): the restarted walk lists everything since, or, without one,
            # everything. Never the token itself in a log: it encodes a position in the tenant.
            log.warning(
                "page_token_rejected",
                resource=res.name,
                code=code,
                after_pages=walk.pages,
                action="walk restarted from the first page",
            )
            seen_from, start, max_seen = utcnow(), res.paginator.start(), None
            restarted = ck.WalkCheckpoint(start, seen_from)
            with self.m.begin() as conn:
                self.m.save_state(
                    conn,
                    res.name,
                    pass_page=ck.dump(res.paginator, restarted),
                    pass_max_seen=None,
                )
            report.note = (
                f"the API refused the walk's page token ({code}); the walk restarted from the "
                "first page"
            )

    async def _pages(
        self,
        res: Resource,
        report: PassReport,
        cursor: datetime | None,
        start: Position | None,
        max_seen: datetime | None,
        seen_from: datetime | None,
        walk: Walk,
    ) -> None:
        """Walk the listing from ``start``; ``walk`` receives the outcome (complete or not).
        Every page's checkpoint carries ``seen_from``."""
        full = cursor is None
        params = {"limit": self.settings.page_size, **res.incremental.params(aware(cursor))}
        pages = res.list(self.sr, res, params, start, walk)
        group = WriteGroup(
            self.m, pages=res.write_group, on_commit=lambda conn: self._progress(conn, report)
        )
        next_stats = STATS_FIRST
        first = True
        try:
            async for page in prefetched(pages):
                now = utcnow()
                items = page.items
                report.pages += 1
                report.counts.fetched += len(items)
                assert page.position is not None  # set by every paginator's walk
                token = ck.dump(res.paginator, ck.WalkCheckpoint(page.position, seen_from))
                # Children read with the page cost API calls: on the event loop, before the write.
                prepared = await self._prepare_children(res, items) if page_children(res) else None
                # Mapping and the write run in a worker thread while the next page is in flight
                # (sqlite3 and the network release the GIL). Pages are written one at a time, in
                # order, each with its checkpoint, into the group's transaction.
                max_seen = await asyncio.to_thread(
                    self._write_page,
                    group,
                    res,
                    items,
                    prepared,
                    report,
                    now,
                    full,
                    token,
                    max_seen,
                )
                if report.counts.fetched >= next_stats:
                    # The tables grow from empty during a backfill: planner statistics from an
                    # empty table picked the wrong index on PostgreSQL (a 175-row index scan per
                    # updated row). Refreshed as the pass grows fourfold: a few ANALYZEs per pass.
                    next_stats = 4 * report.counts.fetched
                    await asyncio.to_thread(self.m.refresh_statistics)
                if self.progress:
                    self.progress(res.name, len(items), 1, page.total)
                log.debug("page_written", resource=res.name, records=len(items))
                if first:
                    first = False
                    self._boundary(res, "page")
                self._boundary(res, f"page{report.pages}")
        finally:
            # An API error ends the walk: what was written is consistent (rows and checkpoint
            # of the same pages) and is committed; a failed write rolls its group back. Run to
            # its end even when the pass is cancelled (a stop): its transaction must not stay
            # open behind the pass's own finish_run.
            await to_the_end(group.close)

    def _write_page(
        self,
        group: WriteGroup,
        res: Resource,
        items: list[Any],
        prepared: dict[str, Any] | None,
        report: PassReport,
        now: datetime,
        full: bool,
        token: str,
        max_seen: datetime | None,
    ) -> datetime | None:
        """One page: map it (unless prepared), write its rows and its checkpoint in the group's
        transaction. Returns the newest cursor value seen so far."""
        if prepared is None:
            prepared = self._map(res, items)
        col = res.incremental.column
        for r in prepared["rows"]:
            seen = r.get(col)
            if seen is not None and (max_seen is None or seen > max_seen):
                max_seen = seen
        with group.lock:
            try:
                conn = group.connection()
                self.m.save_state(conn, res.name, pass_page=token, pass_max_seen=max_seen)
                self._write_records(conn, res, prepared, report, now=now, full=full)
                group.page_written()
            except BaseException:
                group.broken = True
                raise
        return max_seen

    def _write_records(
        self,
        conn: Connection,
        res: Resource,
        prepared: dict[str, Any],
        report: PassReport,
        *,
        now: datetime,
        full: bool,
    ) -> None:
        """The page's records; a record the database refuses goes to quarantine with the
        database's reason, the others are written (``syncd.mirror.isolate``)."""
        for key, reason, raw in prepared["bad"]:
            self._quarantine(conn, res.name, key, reason, raw, report, now)
        rows: list[Row] = prepared["rows"]
        children = prepared.get("children")

        def write(part: Sequence[Row]) -> None:
            counts = dataclasses.replace(report.counts)
            sub: dict[str, Any] = {"rows": list(part), "bad": []}
            if children is not None:  # child name -> parent id -> answer, for these parents
                ids = {str(r["id"]) for r in part}
                sub["children"] = {
                    name: {pid: body for pid, body in per.items() if pid in ids}
                    for name, per in children.items()
                }
            try:
                self._write(conn, res, sub, report, now=now, full=full)
            except BaseException:
                report.counts = counts  # the savepoint undid what was counted
                raise

        def refused(row: Row, reason: str) -> None:
            key = "/".join(str(row.get(k)) for k in res.key)[:160]
            log.warning("record_refused", resource=res.name, key=key, reason=reason)
            raw = row.get("raw")
            if in_savepoint(
                conn, lambda: self._quarantine(conn, res.name, key, reason, raw, report, now)
            ):  # the payload itself cannot be stored: the reason and the key still are
                self._quarantine(conn, res.name, key, reason, None, report, now)

        write_isolated(conn, rows, write, refused)

    def _map(self, res: Resource, items: list[Any]) -> dict[str, Any]:
        rows: list[Row] = []
        bad: list[tuple[str | None, str, Any]] = []
        for item in items:
            try:
                rows.append(res.mapper(item))
            except Invalid as exc:
                key = item.get("id") if isinstance(item, dict) else None
                bad.append((str(key) if key else None, str(exc), item))
        return {"rows": rows, "bad": bad}

    async def _prepare_children(self, res: Resource, items: list[Any]) -> dict[str, Any]:
        """Map a page and read the ``page`` children of its new and changed records."""
        out = self._map(res, items)
        out["children"] = await self._page_children(res, out["rows"])
        return out

    def _write(
        self,
        conn: Connection,
        res: Resource,
        prepared: dict[str, Any],
        report: PassReport,
        *,
        now: datetime,
        full: bool,
    ) -> None:
        for key, reason, raw in prepared["bad"]:
            self._quarantine(conn, res.name, key, reason, raw, report, now)
        rows: list[Row] = prepared["rows"]
        if res.writer:
            # More than an upsert (audit effects, candidates' applications, offers' rechecks).
            getattr(self, res.writer)(conn, rows, report, now=now, full=full)
            return
        result = self.m.upsert(
            conn, res.table, rows, now=now, touch=full, on_change=flags_of(res.table)
        )
        report.counts.add(result)
        changes = change_records(res.name, result, full=full)
        if prepared.get("children"):
            self._write_page_children(conn, res, prepared["children"], report, now=now, full=full)
        self.m.emit(conn, changes, run_id=self.run_id, now=now)

    async def _after_pass(
        self,
        res: Resource,
        report: PassReport,
        ckpt: ck.FollowUpsCheckpoint,
        *,
        full: bool,
        started: datetime,
    ) -> None:
        """The follow-ups the checkpoint does not list as done (each after what it needs), each
        recorded when it ends; then the sweep (a complete pass without a cursor) and the cursor
        (a complete pass)."""
        done = list(ckpt.done)
        if any(f.name not in done for f in followup_order(res)):
            # Follow-ups are set-based statements over what the walk (and earlier passes) wrote:
            # planner statistics of an emptier table make them nested loops on PostgreSQL.
            await asyncio.to_thread(self.m.refresh_statistics)
        for f in followup_order(res):
            if f.name in done:
                continue
            await self._followup(res, f, report, full=full)
            done.append(f.name)
            with self.m.begin() as conn:
                self._progress(conn, report)
                self.m.save_state(
                    conn,
                    res.name,
                    pass_page=ck.dump(res.paginator, dataclasses.replace(ckpt, done=tuple(done))),
                )
            self._boundary(res, f.name)
        now = utcnow()
        with self.m.begin() as conn:
            if ckpt.incomplete is not None:
                # Nothing proves what was not listed is gone, nor that the cursor may move: the
                # next pass walks again from the same cursor.
                self.m.save_state(conn, res.name, **_NO_PASS)
                return
            # A walk restarted after a refused page token lists again what the abandoned walk
            # had listed: only the restarted walk's touches count as seen.
            seen = ckpt.seen_from or started
            if full and res.sweep_deletes and self._sweep_safe(conn, res, seen, report, now):
                self._sweep(conn, res, seen, report, now=now)
            st = self.m.state(conn, res.name)
            # Start of this pass minus the lag window: the window absorbs late commits and a
            # server clock behind ours (up to the lag), and a quiet tenant costs one call.
            cursor = started - self.lag
            self.m.save_state(
                conn,
                res.name,
                cursor=cursor,
                last_pass_started_at=started,
                last_pass_ended_at=now,
                last_sweep_at=started if full else st["last_sweep_at"],
                **_NO_PASS,
            )
            if self.backfill is not None and report.mode == "backfill":
                # In the transaction that closes the pass: a kill cannot fall between the two.
                backfills.finished(self.m, conn, self.backfill, res.name)

    def _sweep_safe(
        self, conn: Connection, res: Resource, started: datetime, report: PassReport, now: datetime
    ) -> bool:
        """Records of this pass that went to quarantine were listed, not gone: their stored rows
        are kept from the sweep. One whose key could not be read leaves the pass unable to tell
        which row it was: no sweep this time."""
        keys = quarantined_keys(conn, self.m.tenant, res.name, started)
        if None in keys:
            report.note = "no deletion sweep: a listed record without a readable key"
            log.warning("sweep_skipped", resource=res.name, reason="quarantined record without key")
            return False
        keep_seen(conn, res.table, self.m.tenant, [k for k in keys if k is not None], now)
        return True


def job_wide(exc: BaseException) -> bool:
    """A failure that is not one resource's: the credential refused (every call would be), or
    the mirror database (every pass writes to it). It ends the job at once."""
    return isinstance(exc, AuthenticationError | SQLAlchemyError) or driver_error(exc) is not None


# sync_state columns of a pass in progress, cleared when it ends.
_NO_PASS: dict[str, Any] = dict.fromkeys(
    (
        "pass_mode",
        "pass_cursor",
        "pass_started_at",
        "pass_max_seen",
        "pass_page",
        "pass_run_id",
    )
)


__all__ = ["Counts", "Engine", "PassReport", "PassesFailed", "ProgressFn"]
