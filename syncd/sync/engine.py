"""The poller engine: one pass per catalogue resource, page by page.

Per page, in one transaction: the page's rows (hash-compared upserts), their outbox records, any
quarantined records and the checkpoint (next page token, highest cursor value seen). A transaction
holds up to ``GROUP_PAGES`` consecutive pages (each with its checkpoint); a killed run resumes at
the last committed page of the same pass. At the end of a pass the cursor becomes
``pass start - lag window`` (the API filters with a strict ``>``; the window makes it ``>=`` and
covers late commits and a server clock up to the lag behind ours).

A pass without a cursor (backfill, sweep, or first run) is complete: it bumps ``last_seen_at`` of
every record it lists and, when it ends, tombstones the records it did not see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, update

from syncd.mirror import schema as s
from syncd.mirror.db import describe_db_error
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import utcnow
from syncd.sync.applications import ApplicationsMixin
from syncd.sync.approvals import ApprovalsMixin
from syncd.sync.audit import AuditMixin
from syncd.sync.catalogue import BY_NAME, CATALOGUE, Resource, flags_of
from syncd.sync.changes import change_records
from syncd.sync.children import ChildrenMixin, page_children
from syncd.sync.interviews import InterviewsMixin
from syncd.sync.offers import OffersMixin
from syncd.sync.passes import (
    GROUP_PAGES,
    Counts,
    PassReport,
    ProgressFn,
    WriteGroup,
    aware,
    naive,
    prefetched,
)

log = structlog.get_logger("syncd.sync")

WALKED = "<walked>"  # pass_page once every page of the pass is committed
STATS_FIRST = 2000  # records into a pass when planner statistics are first refreshed


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
    ) -> list[PassReport]:
        """``mode``: backfill (complete pass, or from ``since``), incremental (from the cursor),
        sweep (complete pass that tombstones what it did not see)."""
        names = list(resources or [r.name for r in CATALOGUE])
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise ValueError(f"unknown resource {unknown[0]!r}; choose from {', '.join(BY_NAME)}")
        self.audit_enabled = "audit" in names
        reports = []
        for res in CATALOGUE:
            if res.name in names:
                reports.append(await self.run_resource(res, mode, since))
        return reports

    async def run_resource(
        self, res: Resource, mode: str, since: datetime | None = None
    ) -> PassReport:
        calls0, retries0 = self.sr.calls, getattr(self.sr, "retries", 0)
        with self.m.begin() as conn:
            st = self.m.state(conn, res.name)
        resumed = st["pass_mode"] is not None
        if resumed:
            cursor, started = st["pass_cursor"], st["pass_started_at"]
            mode = st["pass_mode"]
        else:
            started = utcnow()
            cursor = st["cursor"] if mode == "incremental" else naive(since)
        report = PassReport(res.name, mode, "running", cursor, started)
        self._mark_interrupted(res.name)
        run_row = self.m.start_run(self.run_id, res.name, mode, cursor)
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
            await self._pages(res, report, cursor, full=cursor is None, resume=st)
            await self._after_pass(res, report, full=cursor is None, started=started)
            report.status = "ok"
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
            c = asdict(report.counts)
            self.m.finish_run(run_row, status=report.status, error=report.error, **c)
            log.info(
                "pass_ended", resource=res.name, status=report.status, retries=report.retries, **c
            )
        return report

    def _mark_interrupted(self, resource: str) -> None:
        t = s.sync_runs
        with self.m.begin() as conn:
            conn.execute(
                update(t)
                .where(
                    t.c.tenant == self.m.tenant, t.c.resource == resource, t.c.status == "running"
                )
                .values(status="interrupted")
            )

    # ---- the paged walk ---------------------------------------------------------------------
    async def _pages(
        self, res: Resource, report: PassReport, cursor: datetime | None, *, full: bool, resume: Row
    ) -> None:
        start = resume["pass_page"] if resume["pass_mode"] is not None else None
        max_seen: datetime | None = resume["pass_max_seen"] if start is not None else None
        offset = int(start or 0) if res.paginator == "offset" else 0
        fetch_cursor = aware(cursor)
        if start == WALKED:
            return  # killed after the last page, during the pass's follow-up work
        pages = res.list(self.sr, fetch_cursor, start, self.settings.page_size)
        # Grouped: the audit feed (most pages, small rows, measured 20 % faster) and offers.
        # Jobs read the mirror on another connection while preparing a page (which jobs
        # changed), so they commit page by page; candidates showed no gain.
        group = WriteGroup(self.m, pages=GROUP_PAGES if res.name in ("audit", "offers") else 1)
        next_stats = STATS_FIRST
        try:
            async for page in prefetched(pages):
                now = utcnow()
                items = page.items
                report.pages += 1
                report.counts.fetched += len(items)
                if res.paginator == "offset":
                    offset += len(items)
                    token: str | None = str(offset)
                else:
                    token = page.next_page_id
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
                log.debug("page_written", resource=res.name, records=len(items), page=token)
        finally:
            # An API error ends the walk: what was written is consistent (rows and checkpoint
            # of the same pages) and is committed; a failed write rolls its group back.
            await asyncio.to_thread(group.close)
        with self.m.begin() as conn:
            self.m.save_state(conn, res.name, pass_page=WALKED)

    def _write_page(
        self,
        group: WriteGroup,
        res: Resource,
        items: list[Any],
        prepared: dict[str, Any] | None,
        report: PassReport,
        now: datetime,
        full: bool,
        token: str | None,
        max_seen: datetime | None,
    ) -> datetime | None:
        """One page: map it (unless prepared), write its rows and its checkpoint in the group's
        transaction. Returns the newest cursor value seen so far."""
        if prepared is None:
            prepared = self._map(res, items)
        col = _cursor_col(res)
        for r in prepared["rows"]:
            seen = r.get(col)
            if seen is not None and (max_seen is None or seen > max_seen):
                max_seen = seen
        with group.lock:
            try:
                conn = group.connection()
                self._write(conn, res, prepared, report, now=now, full=full)
                self.m.save_state(conn, res.name, pass_page=token, pass_max_seen=max_seen)
                group.page_written()
            except BaseException:
                group.broken = True
                raise
        return max_seen

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
        self, res: Resource, report: PassReport, *, full: bool, started: datetime
    ) -> None:
        await self._followups(res, report, full=full)
        now = utcnow()
        with self.m.begin() as conn:
            if full and res.sweep_deletes:
                self._sweep(conn, res, started, report, now=now)
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
                pass_mode=None,
                pass_cursor=None,
                pass_started_at=None,
                pass_max_seen=None,
                pass_page=None,
                pass_run_id=None,
            )


def _cursor_col(res: Resource) -> str:
    return {"updatedOn": "updated_on", "createdOn": "created_on", "eventDate": "event_date"}[
        res.cursor_field
    ]


__all__ = ["Counts", "Engine", "PassReport", "ProgressFn"]
