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
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, and_, bindparam, delete, func, select, tuple_, update

from syncd.config import SyncSettings
from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row, as_dict
from syncd.mirror.store import Change, Mirror, UpsertResult, key_text, utcnow
from syncd.sync.catalogue import BY_NAME, CATALOGUE, Resource

log = structlog.get_logger("syncd.sync")

FINAL_OFFER = frozenset({"ACCEPTED", "NOT_ACCEPTED", "ABANDONED", "NOT_APPROVED"})
NON_FINAL_OFFER = [
    "CREATED",
    "PENDING_APPROVAL",
    "APPROVED",
    "PENDING_ACCEPTANCE",
]
WALKED = "<walked>"  # pass_page once every page of the pass is committed
CANDIDATE_DELETED = ("CANDIDATE_DELETED", "CANDIDATE_DELETED_DUE_TO_MERGE")
CALLING_EVENTS = frozenset(
    {
        "ONBOARDING_STATUS_UPDATED",
        "APPLICATION_SOURCE_MODIFIED",
        "OFFER_CREATED",
        "OFFER_UPDATED",
        "OFFER_ACCEPTED",
        "OFFER_DECLINED",
    }
)
PERSONAL = ("first_name", "last_name", "email", "city", "country_code")

ProgressFn = Callable[[str, int, int, int | None], None]  # resource, records, pages, total


# Pages per write transaction: each commit costs a WAL write of every index page touched, about
# as much as writing a page of audit events. A group commits after GROUP_PAGES pages or
# GROUP_SECONDS, whichever comes first, always with the checkpoint of its last page.
GROUP_PAGES = 10
GROUP_SECONDS = 1.0


class _Group:
    """One write transaction spanning a few pages. Every page writes its rows and its
    checkpoint into it, so a commit makes both durable together; a SIGKILL loses only the
    uncommitted pages together with their checkpoint, and the rerun fetches them again."""

    def __init__(self, mirror: Mirror, *, pages: int, seconds: float = GROUP_SECONDS) -> None:
        self.m = mirror
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
            self.txn.commit()
            self.txn = None

    def close(self) -> None:
        with self.lock:
            try:
                if self.txn is not None:
                    if self.broken:
                        self.txn.rollback()
                    else:
                        self.txn.commit()
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
    ended_at: datetime | None = None
    counts: Counts = field(default_factory=Counts)
    pages: int = 0
    error: str | None = None

    @property
    def seconds(self) -> float:
        end = self.ended_at or utcnow()
        return (end - self.started_at).total_seconds()


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _naive(dt: datetime | None) -> datetime | None:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt is not None and dt.tzinfo else dt


@dataclass
class AuditEffects:
    """What a page of audit events asks of the mirror, gathered before it is applied at once."""

    hist: list[Row] = field(default_factory=list)
    prev_fix: list[Row] = field(default_factory=list)
    app_ids: dict[tuple[str, str], Row] = field(default_factory=dict)
    details: set[tuple[str, str]] = field(default_factory=set)
    recheck: set[str] = field(default_factory=set)
    del_cands: list[str] = field(default_factory=list)
    del_jobs: list[str] = field(default_factory=list)
    at_of: dict[str, datetime] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        mirror: Mirror,
        client: Any,
        settings: SyncSettings,
        *,
        progress: ProgressFn | None = None,
        concurrency: int = 8,
    ) -> None:
        self.m = mirror
        self.sr = client
        self.settings = settings
        self.progress = progress
        self.sem = asyncio.Semaphore(concurrency)
        self.run_id = str(uuid.uuid4())
        self.lag = timedelta(seconds=settings.lag_window_seconds)
        self.details_statuses = frozenset(settings.application_details_statuses)
        self.audit_enabled = True

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
        calls0 = self.sr.calls
        with self.m.begin() as conn:
            st = self.m.state(conn, res.name)
        resumed = st["pass_mode"] is not None
        if resumed:
            cursor, started = st["pass_cursor"], st["pass_started_at"]
            mode = st["pass_mode"]
        else:
            started = utcnow()
            cursor = st["cursor"] if mode == "incremental" else _naive(since)
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
        except Exception as exc:
            report.status = "failed"
            report.error = f"{type(exc).__name__}: {exc}"
            report.counts.errors += 1
            log.warning("pass_failed", resource=res.name, error=report.error)
            raise
        finally:
            report.ended_at = utcnow()
            report.counts.api_calls = self.sr.calls - calls0
            c = asdict(report.counts)
            self.m.finish_run(run_row, status=report.status, error=report.error, **c)
            log.info("pass_ended", resource=res.name, status=report.status, **c)
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
        fetch_cursor = _aware(cursor)
        if start == WALKED:
            return  # killed after the last page, during the pass's follow-up work
        pages = res.list(self.sr, fetch_cursor, start, self.settings.page_size)
        # Grouped: the audit feed (most pages, small rows, measured 20 % faster) and offers.
        # Jobs read the mirror on another connection while preparing a page (which jobs
        # changed), so they commit page by page; candidates showed no gain.
        group = _Group(self.m, pages=GROUP_PAGES if res.name in ("audit", "offers") else 1)
        try:
            async for page in _prefetched(pages):
                now = utcnow()
                items = page.items
                report.pages += 1
                report.counts.fetched += len(items)
                if res.paginator == "offset":
                    offset += len(items)
                    token: str | None = str(offset)
                else:
                    token = page.next_page_id
                if res.name == "jobs":  # children cost API calls: fetched on the event loop
                    prepared = await self._prepare(res, items, report)
                else:
                    prepared = None
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
        group: _Group,
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

    async def _prepare(self, res: Resource, items: list[Any], report: PassReport) -> dict[str, Any]:
        """Map a page (and fetch what its changed records need) before the write transaction."""
        out = self._map(res, items)
        if res.name == "jobs":
            out["children"] = await self._job_children(out["rows"])
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
        c = report.counts
        for key, reason, raw in prepared["bad"]:
            self.m.quarantine(conn, res.name, key, reason, raw, run_id=self.run_id, now=now)
            c.quarantined += 1
        rows: list[Row] = prepared["rows"]
        if res.name == "audit":
            self._write_audit(conn, rows, report, now=now)
            return
        if res.name == "candidates":
            # The page's applications are mapped here: a bad assignment quarantines alone.
            self._write_candidates(conn, rows, report, now=now, full=full)
            return
        result = self.m.upsert(conn, res.table, rows, now=now, touch=full)
        c.add(result)
        changes = self._changes(res.name, result, full=full)
        if res.name == "jobs":
            self._write_job_children(conn, prepared["children"], result, now=now, full=full)
        if res.name == "offers":
            self.m.set_columns(conn, s.offers, [{"id": r["id"], "recheck": False} for r in rows])
        self.m.emit(conn, changes, run_id=self.run_id, now=now)

    def _changes(self, resource: str, result: UpsertResult, *, full: bool) -> list[Change]:
        out: list[Change] = []
        status_col = "status"
        for new in result.inserted:
            key = _key(resource, new)
            out.append(Change(resource, key, "created", _summary(new)))
            if not full:
                out.extend(_domain(resource, key, None, new.get(status_col)))
        for old, new in result.updated:
            key = _key(resource, new)
            out.append(Change(resource, key, "updated", _summary(new)))
            if old.get(status_col) != new.get(status_col) or old.get("sub_status") != new.get(
                "sub_status"
            ):
                out.extend(_domain(resource, key, old.get(status_col), new.get(status_col)))
        return out

    # ---- jobs ---------------------------------------------------------------------------------
    async def _job_children(self, rows: list[Row]) -> dict[str, tuple[list[Any], list[Any]]]:
        """Status history and positions of jobs that are new or changed (2 calls per job)."""
        with self.m.begin() as conn:
            old = self.m.existing(conn, s.jobs, [(r["id"],) for r in rows])
        changed = [
            r["id"]
            for r in rows
            if (r["id"],) not in old
            or old[(r["id"],)]["content_hash"] != r["content_hash"]
            or old[(r["id"],)]["deleted_at"] is not None
        ]

        async def one(jid: str) -> tuple[str, tuple[list[Any], list[Any]]]:
            async with self.sem:
                hist = await self.sr.jobs.status_history(jid)
            async with self.sem:
                pos = await self.sr.jobs.positions(jid)
            return jid, (hist, pos)

        return dict(await asyncio.gather(*(one(j) for j in changed)))

    def _write_job_children(
        self,
        conn: Connection,
        children: dict[str, tuple[list[Any], list[Any]]],
        result: UpsertResult,
        *,
        now: datetime,
        full: bool,
    ) -> None:
        for jid, (hist, pos) in children.items():
            try:
                hrows = rec.job_history_rows(jid, hist)
                prows = [rec.position_row(jid, p) for p in pos]
            except Invalid as exc:
                self.m.quarantine(
                    conn,
                    "jobs",
                    jid,
                    str(exc),
                    {"statusHistory": hist, "positions": pos},
                    run_id=self.run_id,
                    now=now,
                )
                continue
            self.m.upsert(conn, s.job_status_history, hrows, now=now)
            conn.execute(
                delete(s.job_status_history).where(
                    s.job_status_history.c.tenant == self.m.tenant,
                    s.job_status_history.c.job_id == jid,
                    s.job_status_history.c.ordinal >= len(hrows),
                )
            )
            pr = self.m.upsert(conn, s.positions, prows, now=now)
            keep = [p["id"] for p in prows]
            gone = self.m.tombstone(
                conn,
                s.positions,
                and_(s.positions.c.job_id == jid, s.positions.c.id.not_in(keep or [""])),
                at=now,
                keep_raw=("id", "createdOn"),
            )
            changes = self._changes("positions", pr, full=full) + [
                Change("positions", g["id"], "deleted") for g in gone
            ]
            self.m.emit(conn, changes, run_id=self.run_id, now=now)

    # ---- candidates and their applications ---------------------------------------------------
    def _write_candidates(
        self, conn: Connection, rows: list[Row], report: PassReport, *, now: datetime, full: bool
    ) -> None:
        c = report.counts
        result = self.m.upsert(conn, s.candidates, rows, now=now, touch=full)
        c.add(result)
        changes = self._changes("candidates", result, full=full)
        apps: list[Row] = []
        listed: dict[str, set[str]] = {}
        for row in rows:
            cid = row["id"]
            listed[cid] = set()
            for a in rec.assignments(row["raw"]):
                try:
                    app = rec.assignment_row(cid, a)
                except Invalid as exc:
                    self.m.quarantine(
                        conn, "applications", cid, str(exc), a, run_id=self.run_id, now=now
                    )
                    c.quarantined += 1
                    continue
                apps.append(app)
                listed[cid].add(app["job_id"])
        ar = self.m.upsert(
            conn,
            s.applications,
            apps,
            now=now,
            merge_raw=True,
            touch=full,
            on_change={"history_pending": True, "details_pending": True},
        )
        self._fill_from_history(conn, ar.inserted)
        changes += self._changes("applications", ar, full=full)
        # A listed candidate shows all its applications: one missing from the list is gone.
        if listed:
            a_t = s.applications
            live = conn.execute(
                select(a_t.c.candidate_id, a_t.c.job_id).where(
                    a_t.c.tenant == self.m.tenant,
                    a_t.c.deleted_at.is_(None),
                    a_t.c.candidate_id.in_(list(listed)),
                )
            ).all()
            for cid, jid in live:
                if jid not in listed[cid]:
                    self.m.tombstone(
                        conn,
                        a_t,
                        and_(a_t.c.candidate_id == cid, a_t.c.job_id == jid),
                        at=now,
                        keep_raw=(),
                    )
                    changes.append(Change("applications", f"{cid}/{jid}", "deleted"))
        self.m.emit(conn, changes, run_id=self.run_id, now=now)

    def _fill_from_history(self, conn: Connection, inserted: list[Row]) -> None:
        """A new application row takes its id and creation date from history rows the audit feed
        already wrote."""
        if not inserted:
            return
        h = s.application_status_history
        keys = [(r["candidate_id"], r["job_id"]) for r in inserted]
        found = conn.execute(
            select(
                h.c.candidate_id, h.c.job_id, func.min(h.c.changed_on), func.max(h.c.application_id)
            )
            .where(h.c.tenant == self.m.tenant, h.c.candidate_id.in_({k[0] for k in keys}))
            .group_by(h.c.candidate_id, h.c.job_id)
        ).all()
        wanted = set(keys)
        found = [f for f in found if (f[0], f[1]) in wanted]
        self.m.set_columns(
            conn,
            s.applications,
            [
                {"candidate_id": cid, "job_id": jid, "created_on": first, "application_id": aid}
                for cid, jid, first, aid in found
            ],
        )

    async def _after_pass(
        self, res: Resource, report: PassReport, *, full: bool, started: datetime
    ) -> None:
        if res.name == "candidates":
            await self._resolve_histories(report)
            await self._resolve_details(report)
        if res.name == "offers":
            await self._recheck_offers(report, full=full)
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

    def _sweep(
        self,
        conn: Connection,
        res: Resource,
        started: datetime,
        report: PassReport,
        *,
        now: datetime,
    ) -> None:
        """After a complete pass: what was not listed is gone."""
        t = res.table
        stale = [
            r[0]
            for r in conn.execute(
                select(t.c.id).where(
                    t.c.tenant == self.m.tenant,
                    t.c.deleted_at.is_(None),
                    t.c.last_seen_at < started,
                )
            )
        ]
        for i in range(0, len(stale), 500):
            ids = stale[i : i + 500]
            if res.name == "candidates":
                self._delete_candidates(conn, ids, at=now, report=report)
            elif res.name == "jobs":
                self._delete_jobs(conn, ids, at=now, report=report)
        if res.name == "candidates":
            # Applications of live candidates that a complete pass did not list.
            a = s.applications
            gone = self.m.tombstone(conn, a, a.c.last_seen_at < started, at=now, keep_raw=())
            self.m.emit(
                conn,
                [
                    Change("applications", f"{g['candidate_id']}/{g['job_id']}", "deleted")
                    for g in gone
                ],
                run_id=self.run_id,
                now=now,
            )
        log.info("sweep_done", resource=res.name, deleted=len(stale))

    def _delete_candidates(
        self, conn: Connection, ids: list[str], *, at: datetime, report: PassReport
    ) -> None:
        c, a, h, o = s.candidates, s.applications, s.application_status_history, s.offers
        gone = self.m.tombstone(
            conn, c, c.c.id.in_(ids), at=at, clear=(*PERSONAL, "consent_status")
        )
        self.m.tombstone(conn, a, a.c.candidate_id.in_(ids), at=at, keep_raw=())
        self.m.tombstone(
            conn, h, h.c.candidate_id.in_(ids), at=at, keep_raw=("changedOn", "status")
        )
        self.m.tombstone(conn, o, o.c.candidate_id.in_(ids), at=at)
        report.counts.deleted += len(gone)
        self.m.emit(
            conn,
            [Change("candidates", g["id"], "deleted") for g in gone],
            run_id=self.run_id,
            now=at,
        )

    def _delete_jobs(
        self, conn: Connection, ids: list[str], *, at: datetime, report: PassReport
    ) -> None:
        j, h, p = s.jobs, s.job_status_history, s.positions
        gone = self.m.tombstone(conn, j, j.c.id.in_(ids), at=at)
        self.m.tombstone(conn, h, h.c.job_id.in_(ids), at=at, keep_raw=("changedOn", "status"))
        self.m.tombstone(conn, p, p.c.job_id.in_(ids), at=at)
        report.counts.deleted += len(gone)
        self.m.emit(
            conn, [Change("jobs", g["id"], "deleted") for g in gone], run_id=self.run_id, now=at
        )

    # ---- the audit feed ---------------------------------------------------------------------
    def _write_audit(
        self, conn: Connection, rows: list[Row], report: PassReport, *, now: datetime
    ) -> None:
        # Audit events never change: insert the new ones, leave the rest (no read, no compare).
        inserted = self.m.insert_new(conn, s.audit_events, rows, now=now)
        result = UpsertResult(inserted=inserted)
        report.counts.add(result)
        report.counts.unchanged += len(rows) - len(inserted)
        fx = AuditEffects()
        # Replaying the lag window's events is harmless: every effect below is idempotent, and
        # the ones that cost API calls (re-reads) only follow events seen for the first time.
        fresh = {r["id"] for r in result.inserted} | {n["id"] for _, n in result.updated}
        for r in rows:
            name = r["event_name"] or ""
            if (name in CALLING_EVENTS or name.startswith("OFFER_")) and r["id"] not in fresh:
                continue
            try:
                self._audit_effect(r, fx, now)
            except Invalid as exc:
                self.m.quarantine(
                    conn, "audit", r["id"], str(exc), r["raw"], run_id=self.run_id, now=now
                )
                report.counts.quarantined += 1
        self._apply_audit(conn, report, fx, now)

    def _audit_effect(self, r: Row, fx: AuditEffects, now: datetime) -> None:
        """What one event means for the mirror, gathered into ``fx`` (applied per page)."""
        name, raw = r["event_name"], r["raw"]
        ctx = as_dict(raw.get("context"))
        cid, jid, eid = r["candidate_id"], r["job_id"], r["entity_id"]
        when = r["event_date"]
        try:
            ordinal = int(r["id"])
        except ValueError:
            ordinal = 0
        if name == "JOB_APPLICATION_CREATED" and cid and jid and when:
            fx.hist.append(
                rec.app_history_row(
                    cid,
                    jid,
                    eid,
                    {
                        "changedOn": raw.get("eventDate"),
                        "status": ctx.get("status"),
                        "subStatus": ctx.get("subStatus"),
                    },
                    ordinal,
                )
            )
            fx.app_ids[(cid, jid)] = {
                "candidate_id": cid,
                "job_id": jid,
                "application_id": eid,
                "created_on": when,
            }
        elif name == "JOB_APPLICATION_STATE_MODIFIED" and cid and jid and when:
            cur = as_dict(ctx.get("currentStatus"))
            prev = as_dict(ctx.get("previousStatus"))
            if cur.get("status"):
                fx.hist.append(
                    rec.app_history_row(
                        cid,
                        jid,
                        eid,
                        {
                            "changedOn": raw.get("eventDate"),
                            "status": cur.get("status"),
                            "subStatus": cur.get("subStatus"),
                        },
                        ordinal,
                    )
                )
            if prev.get("status") and prev.get("subStatus") is not None:
                # The creation event has no sub-status; the next transition tells it.
                fx.prev_fix.append(
                    {
                        "k_c": cid,
                        "k_j": jid,
                        "k_s": prev["status"],
                        "k_o": ordinal,
                        "v": prev["subStatus"],
                    }
                )
        elif name in ("ONBOARDING_STATUS_UPDATED", "APPLICATION_SOURCE_MODIFIED") and cid and jid:
            fx.details.add((cid, jid))
        elif name and name.startswith("OFFER_") and eid:
            fx.recheck.add(eid)
        elif name in CANDIDATE_DELETED and eid:
            fx.del_cands.append(eid)
            fx.at_of[eid] = when or now
        elif name == "JOB_DELETED" and eid:
            fx.del_jobs.append(eid)
            fx.at_of[eid] = when or now

    def _apply_audit(
        self, conn: Connection, report: PassReport, fx: AuditEffects, now: datetime
    ) -> None:
        if fx.hist:
            # An entry is a fact (this status at this instant): a replayed event adds nothing.
            self.m.insert_new(conn, s.application_status_history, fx.hist, now=now)
        if fx.prev_fix:
            h = s.application_status_history
            conn.execute(
                update(h)
                .where(
                    h.c.tenant == self.m.tenant,
                    h.c.candidate_id == bindparam("k_c"),
                    h.c.job_id == bindparam("k_j"),
                    h.c.status == bindparam("k_s"),
                    h.c.ordinal < bindparam("k_o"),
                    h.c.sub_status.is_(None),
                )
                .values(sub_status=bindparam("v")),
                fx.prev_fix,
            )
        # Only rows that exist are updated: during a backfill the audit feed runs before the
        # candidates and offers, so these tables are still empty (a new application takes its id
        # and creation date from the history in _fill_from_history).
        if fx.app_ids or fx.details:
            have = self.m.present(conn, s.applications, [*fx.app_ids, *fx.details])
            fx.app_ids = {k: v for k, v in fx.app_ids.items() if k in have}
            fx.details = {k for k in fx.details if k in have}
        if fx.app_ids:
            self.m.set_columns(conn, s.applications, list(fx.app_ids.values()))
        if fx.details:
            self.m.set_columns(
                conn,
                s.applications,
                [{"candidate_id": c, "job_id": j, "details_pending": True} for c, j in fx.details],
            )
        if fx.recheck:
            have_offers = self.m.present(conn, s.offers, [(o,) for o in fx.recheck])
            fx.recheck = {o for o in fx.recheck if (o,) in have_offers}
        if fx.recheck:
            self.m.set_columns(conn, s.offers, [{"id": o, "recheck": True} for o in fx.recheck])
        for cid in fx.del_cands:
            self._delete_candidates(conn, [cid], at=fx.at_of[cid], report=report)
        for jid in fx.del_jobs:
            self._delete_jobs(conn, [jid], at=fx.at_of[jid], report=report)

    # ---- work owed by applications ----------------------------------------------------------
    def _flagged_batch(self, conn: Connection, flag: Any, after: str, *cols: Any) -> list[Row]:
        """Up to 500 live applications with ``flag`` set, in primary-key order from candidate
        ``after`` on (the caller clears the flags of a batch before asking for the next)."""
        a = s.applications
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(a.c.candidate_id, a.c.job_id, *cols)
                .where(
                    a.c.tenant == self.m.tenant,
                    flag.is_(True),
                    a.c.deleted_at.is_(None),
                    a.c.candidate_id >= after,
                )
                .order_by(a.c.candidate_id, a.c.job_id)
                .limit(500)
            )
        ]

    async def _resolve_histories(self, report: PassReport) -> None:
        """Applications whose status changed: their history is complete when its newest entry
        shows the listed status (the audit feed brought it); otherwise one call each."""
        a, h = s.applications, s.application_status_history
        # Walks the primary key from where the last batch ended (its flags are cleared): a
        # plain LIMIT rescanned the whole table for every batch (quadratic at 100k candidates).
        after = ""
        while True:
            with self.m.begin() as conn:
                pending = self._flagged_batch(
                    conn,
                    a.c.history_pending,
                    after,
                    a.c.application_id,
                    a.c.status,
                    a.c.sub_status,
                )
                if not pending:
                    return
                after = pending[-1]["candidate_id"]
                keys = [(p["candidate_id"], p["job_id"]) for p in pending]
                wanted = set(keys)
                latest: dict[tuple[str, str], Row] = {}
                for r in conn.execute(
                    # Not raw: decoding every entry's JSON was most of this loop's time.
                    select(
                        h.c.candidate_id,
                        h.c.job_id,
                        h.c.changed_on,
                        h.c.status,
                        h.c.sub_status,
                        h.c.ordinal,
                    ).where(
                        h.c.tenant == self.m.tenant,
                        h.c.deleted_at.is_(None),
                        h.c.candidate_id.in_({k[0] for k in keys}),
                    )
                ):
                    m = dict(r._mapping)
                    k = (m["candidate_id"], m["job_id"])
                    if k not in wanted:
                        continue
                    if k not in latest or (m["changed_on"], m["ordinal"]) > (
                        latest[k]["changed_on"],
                        latest[k]["ordinal"],
                    ):
                        latest[k] = m
            complete, fetch = [], []
            for p in pending:
                last = latest.get((p["candidate_id"], p["job_id"]))
                if (
                    last is not None
                    and last["status"] == p["status"]
                    and (last["sub_status"] in (None, p["sub_status"]))
                ):
                    complete.append((p, last))
                else:
                    fetch.append(p)
            fetched = await self._gather([self._history_of(p) for p in fetch])
            now = utcnow()
            with self.m.begin() as conn:
                subs = [
                    {
                        "candidate_id": p["candidate_id"],
                        "job_id": p["job_id"],
                        "changed_on": last["changed_on"],
                        "status": last["status"],
                        "sub_status": p["sub_status"],
                    }
                    for p, last in complete
                    if last["sub_status"] is None and p["sub_status"] is not None
                ]
                self.m.set_columns(conn, h, subs)  # one executemany, not one UPDATE each
                for p, items in zip(fetch, fetched, strict=True):
                    if items is None:
                        continue
                    self._replace_history(conn, p, items, now=now, report=report)
                self.m.set_columns(
                    conn,
                    s.applications,
                    [
                        {
                            "candidate_id": p["candidate_id"],
                            "job_id": p["job_id"],
                            "history_pending": False,
                        }
                        for p in pending
                    ],
                )

    async def _history_of(self, p: Row) -> list[Any] | None:
        from syncd.ats import NotFoundError  # the engine wires ats; imported lazily for tests

        try:
            async with self.sem:
                return list(
                    await self.sr.applications.status_history(p["candidate_id"], p["job_id"])
                )
        except NotFoundError:
            return None  # gone since it was listed: the audit feed or a sweep will say so

    def _replace_history(
        self, conn: Connection, p: Row, items: list[Any], *, now: datetime, report: PassReport
    ) -> None:
        h = s.application_status_history
        rows = []
        for i, item in enumerate(items):
            try:
                rows.append(
                    rec.app_history_row(
                        p["candidate_id"],
                        p["job_id"],
                        p["application_id"],
                        rec._obj(item, "history"),
                        i,
                    )
                )
            except Invalid as exc:
                self.m.quarantine(
                    conn,
                    "application_status_history",
                    f"{p['candidate_id']}/{p['job_id']}",
                    str(exc),
                    item,
                    run_id=self.run_id,
                    now=now,
                )
                report.counts.quarantined += 1
        stored = {
            (r.changed_on, r.status): r.ordinal
            for r in conn.execute(
                select(h.c.changed_on, h.c.status, h.c.ordinal).where(
                    h.c.tenant == self.m.tenant,
                    h.c.candidate_id == p["candidate_id"],
                    h.c.job_id == p["job_id"],
                )
            )
        }
        for r in rows:  # keep audit ordinals where we have them: they order same-stamp entries
            r["ordinal"] = stored.get((r["changed_on"], r["status"]), r["ordinal"])
        self.m.upsert(conn, h, rows, now=now)
        keep = {(r["changed_on"], r["status"]) for r in rows}
        extra = [k for k in stored if k not in keep]
        for changed_on, status in extra:
            conn.execute(
                delete(h).where(
                    h.c.tenant == self.m.tenant,
                    h.c.candidate_id == p["candidate_id"],
                    h.c.job_id == p["job_id"],
                    h.c.changed_on == changed_on,
                    h.c.status == status,
                )
            )

    async def _resolve_details(self, report: PassReport) -> None:
        """``GET /candidates/{id}/jobs/{jobId}`` (source, onboarding status, start date) for
        changed applications in the statuses configured; the others only clear the flag."""
        a = s.applications
        after = ""  # as in _resolve_histories: by primary key, from the last batch on
        while True:
            with self.m.begin() as conn:
                pending = self._flagged_batch(conn, a.c.details_pending, after, a.c.status)
                want = [p for p in pending if p["status"] in self.details_statuses]
                if want:  # raw only for the applications that get a call
                    raws = self.m.existing(
                        conn, a, [(p["candidate_id"], p["job_id"]) for p in want]
                    )
                    for p in want:
                        p["raw"] = raws[(p["candidate_id"], p["job_id"])]["raw"]
            if not pending:
                return
            after = pending[-1]["candidate_id"]
            got = await self._gather([self._details_of(p) for p in want])
            now = utcnow()
            with self.m.begin() as conn:
                changes: list[Change] = []
                upd: list[Row] = []
                done: set[tuple[str, str]] = set()
                for p, body in zip(want, got, strict=True):
                    if body is None:
                        continue
                    try:
                        fields = rec.application_detail_fields(body)
                    except Invalid as exc:
                        key = f"{p['candidate_id']}/{p['job_id']}"
                        self.m.quarantine(
                            conn, "applications", key, str(exc), body, run_id=self.run_id, now=now
                        )
                        report.counts.quarantined += 1
                        continue
                    fields = {
                        k: v
                        for k, v in fields.items()
                        if v is not None or k in ("onboarding_status", "starts_on")
                    }
                    raw = {**(p["raw"] or {}), "details": body}
                    h = rec.content_hash(raw)
                    old_hash = rec.content_hash(p["raw"] or {})
                    fields.pop("status", None)
                    fields.pop("sub_status", None)
                    done.add((p["candidate_id"], p["job_id"]))
                    upd.append(
                        {
                            "candidate_id": p["candidate_id"],
                            "job_id": p["job_id"],
                            **fields,
                            "raw": raw,
                            "content_hash": h,
                            "details_pending": False,
                        }
                    )
                    if h != old_hash:
                        changes.append(
                            Change(
                                "applications",
                                f"{p['candidate_id']}/{p['job_id']}",
                                "updated",
                                {"details": True},
                            )
                        )
                # One executemany per column set instead of one UPDATE per application.
                self.m.set_columns(
                    conn,
                    a,
                    upd
                    + [
                        {
                            "candidate_id": p["candidate_id"],
                            "job_id": p["job_id"],
                            "details_pending": False,
                        }
                        for p in pending
                        if (p["candidate_id"], p["job_id"]) not in done
                    ],
                )
                self.m.emit(conn, changes, run_id=self.run_id, now=now)

    async def _details_of(self, p: Row) -> dict[str, Any] | None:
        from syncd.ats import NotFoundError

        try:
            async with self.sem:
                body = await self.sr.applications.get(p["candidate_id"], p["job_id"])
                return dict(body)
        except NotFoundError:
            return None

    # ---- offers that may have changed -------------------------------------------------------
    async def _recheck_offers(self, report: PassReport, *, full: bool) -> None:
        """Offers have no updatedAfter. The audit feed names the offers that changed (OFFER_*
        events set ``recheck``); one call per application re-reads them. Without the audit
        resource in the pass, every offer that is not final is re-read through the list."""
        o = s.offers
        if not self.audit_enabled and not full:
            async for page in self.sr.offers.pages(
                status=NON_FINAL_OFFER, limit=self.settings.page_size
            ):
                now = utcnow()
                rows, bad = [], []
                for item in page.items:
                    try:
                        rows.append(rec.offer_row(item))
                    except Invalid as exc:
                        bad.append((None, str(exc), item))
                with self.m.begin() as conn:
                    self._write(
                        conn, _offers_res(), {"rows": rows, "bad": bad}, report, now=now, full=False
                    )
            return
        with self.m.begin() as conn:
            apps = sorted(
                {
                    (r.candidate_id, r.job_id)
                    for r in conn.execute(
                        select(o.c.candidate_id, o.c.job_id).where(
                            o.c.tenant == self.m.tenant,
                            o.c.recheck.is_(True),
                            o.c.candidate_id.is_not(None),
                        )
                    )
                }
            )
        from syncd.ats import NotFoundError

        async def one(cid: str, jid: str) -> list[Any]:
            try:
                async with self.sem:
                    return list(await self.sr.offers.for_application(cid, jid))
            except NotFoundError:
                return []

        for i in range(0, len(apps), 100):
            chunk = apps[i : i + 100]
            got = await self._gather([one(c, j) for c, j in chunk])
            now = utcnow()
            rows, bad = [], []
            for items in got:
                for item in items or []:
                    try:
                        rows.append(rec.offer_row(item))
                    except Invalid as exc:
                        bad.append((None, str(exc), item))
            with self.m.begin() as conn:
                self._write(
                    conn, _offers_res(), {"rows": rows, "bad": bad}, report, now=now, full=False
                )
                conn.execute(
                    update(o)
                    .where(
                        o.c.tenant == self.m.tenant, tuple_(o.c.candidate_id, o.c.job_id).in_(chunk)
                    )
                    .values(recheck=False)
                )
        with self.m.begin() as conn:  # rechecks for offers whose application is unknown
            conn.execute(
                update(o)
                .where(o.c.tenant == self.m.tenant, o.c.recheck.is_(True))
                .values(recheck=False)
            )

    async def _gather(self, coros: Iterable[Awaitable[Any]]) -> list[Any]:
        return list(await asyncio.gather(*coros))


async def _prefetched(pages: AsyncIterator[Any]) -> AsyncIterator[Any]:
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


def _offers_res() -> Resource:
    return BY_NAME["offers"]


def _cursor_col(res: Resource) -> str:
    return {"updatedOn": "updated_on", "createdOn": "created_on", "eventDate": "event_date"}[
        res.cursor_field
    ]


def _key(resource: str, row: Row) -> str:
    if resource == "applications":
        return f"{row['candidate_id']}/{row['job_id']}"
    return key_text((row["id"],))


def _summary(row: Row) -> dict[str, Any] | None:
    out = {k: row.get(k) for k in ("status", "sub_status") if row.get(k) is not None}
    return out or None


def _domain(resource: str, key: str, old: Any, new: Any) -> list[Change]:
    out: list[Change] = []
    if resource == "applications" and new is not None:
        if old is not None and old != new:
            out.append(Change(resource, key, "status_changed", {"from": old, "to": new}))
        if new == "HIRED" and old != "HIRED":
            out.append(Change(resource, key, "hired"))
    if resource == "offers" and new == "ACCEPTED" and old != "ACCEPTED":
        out.append(Change(resource, key, "offer_accepted"))
    if resource == "jobs" and old is not None and old != new:
        out.append(Change(resource, key, "status_changed", {"from": old, "to": new}))
    return out


__all__ = ["Counts", "Engine", "PassReport"]
