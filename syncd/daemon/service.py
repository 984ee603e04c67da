"""One tenant of the daemon: its SmartRecruiters client (one limiter per credential) and mirror
shared by every job of the tenant; the database engine and the APScheduler (3.x, asyncio)
scheduler are shared by every tenant (``syncd.daemon.fleet``); the mirror's locks decide who
leads the tenant.

Jobs (``TENANT:pull`` and so on with several tenants; each at most one instance, misfires
coalesced; one that raises is logged with its error and runs again at its next time):

- ``pull``: one incremental pass of every resource, in the catalogue's order (the order a
  ``syncd sync --once`` uses: audit before candidates, so status histories are ready), every
  ``schedule.poll_interval_seconds``; first run at start.
- ``sweep``: a complete pass that also finds deletions, every ``schedule.sweep_interval_hours``.
- ``push``: the dispatcher's pass of every enabled sink (deliveries, status readback, write-back
  to SmartRecruiters), every ``schedule.push_interval_seconds``, and at once after a pull or a
  webhook refresh wrote something.

Pull, sweep and webhook refreshes write one at a time (an asyncio lock): passes never interleave.

Leadership: the leader holds the tenant's writer lock and push lock as long as it leads. On
SQLite the fleet holds the file's locks for every tenant and a second daemon is refused
(``MirrorBusyError``, exit 5) before anything starts; on PostgreSQL the fleet decides, every
``schedule.leader_check_seconds``, which tenants this replica tries to lead, and a leader whose
lock session is gone stops its jobs at once and stands by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine

from syncd.config import Settings
from syncd.daemon.metrics import ObservedTransport, PrometheusObserver
from syncd.mirror.db import describe_db_error, make_engine
from syncd.mirror.lock import MirrorBusyError, MirrorFileLostError, MirrorLock
from syncd.mirror.store import Mirror

log = structlog.get_logger("syncd.daemon")


def route_library_logs(level: str) -> None:
    """APScheduler's and uvicorn's loggers through ``syncd.logging.StdlibToStructlog`` at the
    daemon's level (the root logger, which every other library reaches, is routed by
    ``configure_logging`` at WARNING)."""
    from syncd.logging import StdlibToStructlog

    handler = StdlibToStructlog()
    for name in ("apscheduler", "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers = [handler]
        lg.propagate = False
        wanted = logging.getLevelNamesMapping()[level.upper()]
        # APScheduler logs every job's start and end at info: our own events say more.
        lg.setLevel(max(wanted, logging.WARNING) if name == "apscheduler" else wanted)


JOB_OPTIONS: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


class Daemon:
    """One tenant of ``syncd run`` (``syncd.daemon.fleet.Fleet`` runs one per configured
    tenant): its SmartRecruiters client (one limiter per credential), its mirror, its
    writer and push locks (PostgreSQL) and its jobs, on the database engine and scheduler the
    fleet shares. ``settings`` are the tenant's own (``Settings.for_tenant``). The fleet opens
    it (``open``: raises the client's configuration and authentication errors), decides when it
    leads (``try_lead``, ``lead``, ``lose_lead``, ``hand_back``) and closes it."""

    def __init__(
        self,
        settings: Settings,
        observer: PrometheusObserver | None = None,
        *,
        db: Engine | None = None,
        scheduler: AsyncIOScheduler | None = None,
        write_lock: asyncio.Lock | None = None,
        locks: list[MirrorLock] | None = None,
        job_prefix: str = "",
    ) -> None:
        from syncd.ats import SmartRecruitersClient

        self.settings = settings
        self.tenant = settings.tenant
        self.observer = observer or PrometheusObserver()
        self.db = db if db is not None else make_engine(settings.database_url)
        self.mirror = Mirror(self.db, self.tenant)
        sr = settings.smartrecruiters
        inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=max(16, sr.max_concurrency * 2))
        )
        self.sr = SmartRecruitersClient(
            sr,
            transport=ObservedTransport(inner, self.observer),
            on_limiter_wait=self.observer.limiter_wait,
        )
        self.scheduler = scheduler if scheduler is not None else AsyncIOScheduler(timezone=UTC)
        # PostgreSQL: the tenant's own locks. SQLite: none here (one lock per file: the fleet
        # holds it for every tenant).
        self.locks = (
            locks
            if locks is not None
            else [
                MirrorLock(settings.database_url, self.tenant, "writer"),
                MirrorLock(settings.database_url, self.tenant, "push"),
            ]
        )
        self.role = "starting"  # then "leader" or "standby"
        # Passes and refreshes of this tenant write one at a time (SQLite: the fleet shares one
        # lock between tenants, as the file has one writer).
        self.write_lock = write_lock or asyncio.Lock()
        self.running: set[asyncio.Task[Any]] = set()
        self.started = time.time()  # since when it leads: /readyz gives a first pass that long
        self.stopping = False
        self.sink_names = sorted(
            n for n, t in settings.sinks.items() if t.get("enabled", True) is not False
        )
        self._push_again = False
        self._pushing = False
        # Sinks found unreachable by a push pass, warned about once (sink_unreachable) until a
        # pass delivers to them again (sink_recovered).
        self._sinks_down: set[str] = set()
        self.hooks: Any = None  # syncd.daemon.hooks_in.HookIntake, once the HTTP server runs
        # Several tenants share one scheduler: their jobs are named "TENANT:pull" and so on.
        self.job_prefix = job_prefix
        # SQLite: the fleet's check that the file is still the mirror its locks guard (a line
        # saying why not, or None); None on PostgreSQL.
        self.file_check: Callable[[], str | None] | None = None

    def file_problem(self) -> str | None:
        """SQLite: why the mirror's file is no longer the one locked (deleted or replaced), or
        None (``Fleet.file_problem``)."""
        return self.file_check() if self.file_check is not None else None

    def job_id(self, name: str) -> str:
        return f"{self.job_prefix}{name}"

    # ---- open and close ---------------------------------------------------------------------
    async def open(self) -> None:
        """Open the client and check the credential (one call)."""
        from syncd.sync.runner import check_credential

        await self.sr.open()
        with structlog.contextvars.bound_contextvars(tenant=self.tenant):
            await check_credential(self.sr, None)

    async def close(self, grace: float) -> None:
        """Stop taking work, let the running jobs end (each pass commits or rolls back its
        write group and records itself ``interrupted``) within ``grace`` seconds, release the
        locks and close the client."""
        self.stopping = True
        if self.hooks is not None:
            await self.hooks.close(grace)
        await self._cancel_jobs(grace)
        self._release()
        await self.sr.aclose()

    def _release(self) -> None:
        for lock in self.locks:
            with contextlib.suppress(Exception):
                lock.release()

    async def _cancel_jobs(self, grace: float) -> None:
        tasks = [t for t in self.running if not t.done()]
        for t in tasks:
            if not t.cancelling():  # once: a second cancel would cut its clean-up short
                t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    # ---- leadership (decided by the fleet) ----------------------------------------------------
    def try_lead(self) -> bool:
        """Take the tenant's locks (blocking): True when taken, False (nothing held) when
        another process holds one. SQLite and other errors propagate."""
        taken: list[MirrorLock] = []
        try:
            for lock in self.locks:
                lock.acquire()
                taken.append(lock)
        except MirrorBusyError:
            for lock in taken:
                lock.release()
            return False
        except BaseException:
            for lock in taken:
                lock.release()
            raise
        return True

    def locks_alive(self) -> bool:
        """The tenant's locks are still held (blocking; PostgreSQL asks their sessions)."""
        return all(lock.alive() for lock in self.locks)

    def lead(self) -> None:
        """Leading from now: the jobs start (the first pull at once)."""
        self.role = "leader"
        self.observer.leader(self.tenant, True)
        self._add_jobs()
        if self.hooks is not None:
            self.hooks.wake()  # callbacks other replicas stored while nobody led, or before

    def stand_by(self) -> None:
        self.role = "standby"
        self.observer.leader(self.tenant, False)

    async def lose_lead(self) -> None:
        """The locks' session is gone: stop writing at once and stand by."""
        log.error("leadership_lost", tenant=self.tenant, action="jobs stopped; standing by")
        await self._step_down()

    async def hand_back(self) -> None:
        """Leave the tenant to another replica (this one leads more than its share)."""
        log.info("handing_back", tenant=self.tenant, reason="above this replica's fair share")
        await self._step_down()

    async def _step_down(self) -> None:
        self.stand_by()
        for name in ("pull", "sweep", "push"):
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(self.job_id(name))
        await self._cancel_jobs(self.settings.schedule.stop_grace_seconds)
        self._release()

    # ---- jobs -------------------------------------------------------------------------------
    def _add_jobs(self) -> None:
        self.started = time.time()
        sched = self.settings.schedule
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self._job("pull", self.pull),
            IntervalTrigger(seconds=sched.poll_interval_seconds),
            id=self.job_id("pull"),
            name=self.job_id("pull"),
            next_run_time=now,
            **JOB_OPTIONS,
        )
        self.scheduler.add_job(
            self._job("sweep", self.sweep),
            IntervalTrigger(hours=sched.sweep_interval_hours),
            id=self.job_id("sweep"),
            name=self.job_id("sweep"),
            next_run_time=self._first_sweep(now),
            **JOB_OPTIONS,
        )
        if self.sink_names:
            self.scheduler.add_job(
                self._job("push", self.push),
                IntervalTrigger(seconds=sched.push_interval_seconds),
                id=self.job_id("push"),
                name=self.job_id("push"),
                next_run_time=now,
                **JOB_OPTIONS,
            )
        else:
            log.info(
                "push_off",
                tenant=self.tenant,
                reason="no sinks configured ([sinks.NAME] in SYNCD_CONFIG)",
            )

    def _first_sweep(self, now: datetime) -> datetime:
        """The last complete pass plus the interval (now when that is past), so a daemon
        restarted more often than the interval still sweeps; a mirror without any pass yet
        gets its complete pass from the first pull, and its first sweep one interval later."""
        from sqlalchemy import func, select

        from syncd.mirror import schema as s

        every = timedelta(hours=self.settings.schedule.sweep_interval_hours)
        t = s.sync_state
        with self.db.connect() as conn:
            oldest = conn.execute(
                select(func.min(t.c.last_sweep_at)).where(t.c.tenant == self.tenant)
            ).scalar()
        if oldest is None:
            return now + every
        return max(now, oldest.replace(tzinfo=UTC) + every)

    def _job(self, name: str, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """``work`` as a scheduler job: skipped while stopping or standing by; an exception is
        logged (its type and safe first line) and counted, and the job runs at its next time."""

        async def job() -> None:
            if self.stopping or self.role != "leader":
                return
            task = asyncio.current_task()
            assert task is not None
            # This task's own context: every event of the job names its tenant.
            structlog.contextvars.bind_contextvars(tenant=self.tenant)
            self.running.add(task)
            try:
                lost = self.file_problem()
                if lost is not None:  # the fleet's watch stops the daemon (exit 6)
                    log.error("job_skipped", job=name, error=lost)
                    return
                await work()
            except asyncio.CancelledError:
                log.info("job_stopped", job=name)
            except Exception as exc:
                self.observer.job_failed(name)
                log.error("job_failed", job=name, error=describe_db_error(exc))
            finally:
                self.running.discard(task)

        return job

    async def pull(self) -> None:
        await self._passes("incremental")

    async def sweep(self) -> None:
        await self._passes("sweep")

    async def _passes(self, mode: str) -> None:
        """One pass of every resource. A resource whose pass fails does not stop the others
        (``Engine.run``): every pass is counted, what the others wrote is pushed, and then the
        job fails (job_failed names each failed resource) and runs at its next time."""
        from syncd.sync.engine import Engine, PassesFailed

        failed: PassesFailed | None = None
        async with self.write_lock:
            lost = self.file_problem()
            if lost is not None:
                raise MirrorFileLostError(lost)
            engine = Engine(
                self.mirror,
                self.sr,
                self.settings.sync,
                concurrency=self.settings.smartrecruiters.max_concurrency,
            )
            # Each pass counted in /metrics as it ends (its sync_runs row just finished), not
            # once the job's last resource is done: a scrape never lags the mirror by a pass.
            try:
                reports = await engine.run(mode, on_pass_ended=self.observer.pass_ended)
            except PassesFailed as exc:
                reports, failed = exc.reports, exc
        if any(r.counts.inserted or r.counts.updated or r.counts.deleted for r in reports):
            self.request_push()
        if failed is not None:
            raise failed  # job_failed counts and logs it

    async def push(self) -> None:
        """Dispatcher passes: one, and another while ``request_push`` asked during the last."""
        self._pushing = True
        try:
            while True:
                self._push_again = False
                await self._push_pass()
                if not self._push_again or self.stopping or self.role != "leader":
                    return
        finally:
            self._pushing = False

    async def _push_pass(self) -> None:
        from syncd.delivery.dispatcher import push_once
        from syncd.delivery.sinks import configure
        from syncd.delivery.writeback import sr_write_back

        notices: list[str] = []
        sinks = configure(self.settings.sinks, origin=self.settings.sink_origin)
        # SQLite has one writer at a time: a pull keeps its write group's transaction open while
        # it awaits the next page, and a push writing then would block the event loop on the
        # file's lock until the busy timeout (60 s: /healthz stale, the watchdog firing). There
        # each of the push's write transactions takes the write lock, and only for that write:
        # never while it waits for a target or SmartRecruiters, so an HRIS outage never holds up
        # a pull or a webhook refresh. PostgreSQL writes side by side.
        gate = self._sqlite_write_gate if self.db.dialect.name == "sqlite" else None
        wb = sr_write_back(self.db, self.tenant, self.sr, notices, write_gate=gate)
        reports = await push_once(self.db, self.tenant, sinks, write_back=wb, write_gate=gate)
        # A pass that ended on a throttled or unavailable target: the next one when the target
        # asked (Retry-After) or the failed delivery is due, if sooner than the interval, so a
        # first load into a rate-limited HRIS goes on at the target's pace. Nothing sleeps here.
        waits = [r.resume_after for r in reports if r.resume_after is not None]
        if waits and min(waits) < self.settings.schedule.push_interval_seconds:
            job = self.scheduler.get_job(self.job_id("push"))
            if job is not None and not self.stopping and self.role == "leader":
                at = datetime.now(UTC) + timedelta(seconds=max(min(waits), 1.0))
                job.modify(next_run_time=at)
        self.observer.push_ended(reports)
        self._note_outages(reports)
        for r in reports:
            log.info(
                "push_pass",
                sink=r.sink,
                queued=r.queued,
                sent=r.sent,
                delivered=r.delivered,
                rejected=r.rejected,
                dead=r.dead,
                retrying=r.retrying + r.parked,
                held=r.held,
                read_back=r.read_back,
                errors=len(r.errors),
            )
        for n in notices:
            log.warning("push_notice", notice=n)

    @contextlib.asynccontextmanager
    async def _sqlite_write_gate(self) -> AsyncIterator[None]:
        """The write lock around one of a push's write transactions on SQLite, after a look at
        the file: one deleted or replaced is not written (``MirrorFileLostError``: the push job
        fails, the fleet stops the daemon)."""
        async with self.write_lock:
            lost = self.file_problem()
            if lost is not None:
                raise MirrorFileLostError(lost)
            yield

    def _note_outages(self, reports: list[Any]) -> None:
        """One warning when a sink's outage starts (``sink_unreachable``: the sink, the first
        failed attempt's reason, when the next attempt is due, the fix), none while it lasts,
        and an info line when a pass delivers to it again (``sink_recovered``). ``reports``:
        ``syncd.delivery.dispatcher.SinkReport``s. The push_pass lines stay info."""
        for r in reports:
            if r.outage is not None and r.sink not in self._sinks_down:
                self._sinks_down.add(r.sink)
                due = (
                    None
                    if r.resume_after is None
                    else (datetime.now(UTC) + timedelta(seconds=r.resume_after))
                    .isoformat(timespec="seconds")
                    .replace("+00:00", "Z")
                )
                table = self.settings.sink_table(r.sink)
                log.warning(
                    "sink_unreachable",
                    sink=r.sink,
                    reason=r.outage,
                    next_attempt_at=due,
                    retrying=r.retrying + r.parked + r.held,
                    fix=f"check that the target of [{table}] is up and reachable from this host "
                    f"(its URL in [{table}], DNS, firewall, proxy); deliveries wait and are "
                    "retried, none is lost",
                )
            elif r.sink in self._sinks_down and r.outage is None and r.delivered:
                self._sinks_down.discard(r.sink)
                log.info("sink_recovered", sink=r.sink, delivered=r.delivered)

    def request_push(self) -> None:
        """Run the push job now (or once more right after the run in progress)."""
        if not self.sink_names or self.stopping or self.role != "leader":
            return
        self._push_again = True  # a push in progress runs once more
        job = self.scheduler.get_job(self.job_id("push"))
        if job is not None and not self._pushing:
            job.modify(next_run_time=datetime.now(UTC))

    async def refresh(
        self, name: str, ids: list[str], also: Callable[[Connection], None] | None = None
    ) -> None:
        """Records named by a webhook, read by id and written as a pass writes them; ``also``
        runs in the transaction that writes them (``Refresher.refresh``)."""
        from syncd.sync.refresh import Refresher

        async with self.write_lock:
            lost = self.file_problem()
            if lost is not None:
                raise MirrorFileLostError(lost)
            engine = Refresher(
                self.mirror,
                self.sr,
                self.settings.sync,
                concurrency=self.settings.smartrecruiters.max_concurrency,
            )
            # Its own task, counted with the jobs: a stop or a lost lead cancels it like a pass.
            task = asyncio.create_task(engine.refresh(name, ids, also))
            self.running.add(task)
            try:
                out = await task
            finally:
                self.running.discard(task)
        self.observer.pass_ended(out.report)
        c = out.report.counts
        if c.inserted or c.updated or c.deleted:
            self.request_push()
