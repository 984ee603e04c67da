"""``syncd run``'s tenants: one ``Daemon`` per configured tenant (its own client and limiter,
mirror, locks and jobs) on one database engine, one scheduler and one HTTP server; and who leads
which tenant.

- **SQLite**: one writer per file. The fleet takes the file's writer and push locks once, for
  every tenant (a second ``syncd run`` is refused: ``MirrorBusyError``, exit 5), and every tenant
  leads; their passes share one write lock (the file has one writer).
- **PostgreSQL**: each tenant has its own session advisory locks; this replica holds a
  membership lock (``syncd.mirror.members``) and, at start (one tenant only: with several it
  waits for its first check, so that replicas started together see each other) and every
  ``schedule.leader_check_seconds``,
  (1) stands by for each tenant whose lock session is gone (it stops writing at once),
  (2) counts the live replicas in ``pg_locks`` and applies the share rule
  (``syncd.daemon.share``): takes free tenants up to its fair share, hands back a surplus.
  No coordinator of syncd's own: PostgreSQL's locks are the only shared state.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Coroutine
from datetime import UTC
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import event

from syncd.ats.errors import AuthenticationError, PermissionDeniedError
from syncd.cli_errors import REFUSED, CommandError
from syncd.config import Settings
from syncd.daemon.metrics import PrometheusObserver
from syncd.daemon.service import Daemon
from syncd.daemon.share import fair_share, plan
from syncd.mirror.db import describe_db_error, make_engine
from syncd.mirror.lock import MirrorFileLostError, MirrorLock
from syncd.mirror.members import Membership

log = structlog.get_logger("syncd.daemon")


class Fleet:
    """Build it, ``await start()``, run ``heartbeat`` and ``watch`` beside it, ``await
    close(grace)`` at the end. ``start`` raises before anything runs: ``MirrorBusyError``
    (SQLite, another daemon), the clients' configuration and authentication errors (one API
    call per tenant checks its credential)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = settings.tenant_names()
        # Several tenants configured ([tenants]): per-tenant webhook paths and metric labels.
        self.multi = bool(settings.tenants)
        self.db = make_engine(settings.database_url)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        url = settings.database_url
        self.elect = MirrorLock(url, self.names[0]).kind == "postgresql"
        self.file_locks: list[MirrorLock] = []
        shared_write: asyncio.Lock | None = None
        if not self.elect:
            self.file_locks = [MirrorLock(url, self.names[0], r) for r in ("writer", "push")]
            shared_write = asyncio.Lock()
        self.daemons: dict[str, Daemon] = {}
        for name in self.names:
            self.daemons[name] = Daemon(
                settings.for_tenant(name),
                PrometheusObserver(),
                db=self.db,
                scheduler=self.scheduler,
                write_lock=shared_write,
                locks=[] if not self.elect else None,
                job_prefix=f"{name}:" if self.multi else "",
            )
        self.members = Membership(url, self.names) if self.elect else None
        self.replicas = 1  # live replicas at the last check (PostgreSQL)
        self.over_checks = 0  # consecutive checks above the fair share
        self.loop_beat = time.monotonic()
        self.stopping = False
        self.listener: Any = None  # syncd.mirror.inbox.InboxListener (PostgreSQL)
        self.listener_task: asyncio.Task[None] | None = None
        # SQLite: why the file the locks guard is no longer the mirror (deleted or replaced
        # while running), once noticed; ``syncd run`` then stops and exits 6.
        self.lost: str | None = None

    @property
    def leading(self) -> list[str]:
        return [n for n, d in self.daemons.items() if d.role == "leader"]

    # ---- start and stop ---------------------------------------------------------------------
    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Open every tenant's client and check its credential, take the file's locks (SQLite)
        or join the replicas and take a first share (PostgreSQL), start the scheduler. True
        once started; False when ``stop`` was set meanwhile (SIGTERM during start-up): a
        credential check under way is cancelled and nothing more starts (no scheduler, no
        job, no lock taken from then on); ``close`` then ends what was begun."""
        for name, d in self.daemons.items():
            try:
                if not await _unless(stop, d.open()):
                    return False
            except (AuthenticationError, PermissionDeniedError) as exc:
                # The fix names where the credential came from: the variable, or the
                # configuration file's table when no variable gave it.
                who = f"tenant {name}: " if self.multi else ""
                raise CommandError(
                    f"{who}SmartRecruiters refused the credentials or their role: "
                    f"{exc}; fix {d.settings.credential_variables()}",
                    REFUSED,
                ) from None
        if stop is not None and stop.is_set():
            return False
        self.scheduler.start()
        if not self.elect:
            taken: list[MirrorLock] = []
            try:
                for lock in self.file_locks:
                    lock.acquire()  # a second daemon is refused here (exit 5)
                    taken.append(lock)
            except BaseException:
                for lock in taken:
                    lock.release()
                raise
            # A connection opened after the file was replaced would open the new file: none
            # is opened then (the pool's open ones write to the old file, read by nobody).
            event.listen(self.db, "connect", self._refuse_lost_file)
            for d in self.daemons.values():
                d.file_check = self.file_problem
                d.lead()
            return True
        assert self.members is not None
        await asyncio.to_thread(self.members.join)
        for d in self.daemons.values():
            d.stand_by()
        if stop is not None and stop.is_set():
            return False
        if len(self.names) > 1:
            # Replicas started together (a Deployment created or scaled from zero) would each
            # count themselves alone and take everything, then hand most of it back, cutting
            # first passes short. Visible as a member now, this one takes its share at its
            # first check, one leader_check_seconds from now, by when the others have joined.
            log.info("standby", tenants=self.names, reason="taking a share at the first check")
            return True
        await self.balance(stop)
        for name, d in self.daemons.items():
            if d.role != "leader":
                log.info("standby", tenant=name, reason="another syncd leads this tenant")
        return stop is None or not stop.is_set()

    async def close(self, grace: float) -> None:
        self.stopping = True
        if self.listener_task is not None:
            self.listener_task.cancel()
            # Within the bound: a cancel a library swallowed never holds the stop up.
            await asyncio.wait([self.listener_task], timeout=grace)
        # No job starts from now, and the running ones are cancelled once, by their daemon,
        # which then waits for them: APScheduler's shutdown cancels its running coroutine jobs
        # too, and a second cancel reached a pass in its clean-up (the write group's close),
        # which it then left undone (``syncd.sync.passes.to_the_end``). Shut down once they ended.
        with contextlib.suppress(Exception):
            self.scheduler.pause()
        await asyncio.gather(*(d.close(grace) for d in self.daemons.values()))
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        for lock in self.file_locks:
            with contextlib.suppress(Exception):
                lock.release()
        if self.members is not None:
            self.members.close()
        self.db.dispose()

    def start_hooks(self, intake: Any, tenant: str) -> None:
        """The tenant's webhook worker (and inbox drainer), in a context naming the tenant
        (its log events)."""
        ctx = contextvars.copy_context()
        ctx.run(structlog.contextvars.bind_contextvars, tenant=tenant)
        ctx.run(intake.start)

    def start_inbox_listener(self) -> None:
        """PostgreSQL: one ``LISTEN`` for every tenant's webhook inbox; a notification wakes the
        drainer of the tenant it names when this replica leads it (``syncd.mirror.inbox``)."""
        if not self.elect:
            return
        from syncd.mirror.inbox import InboxListener

        def on_notify(tenant: str) -> None:
            d = self.daemons.get(tenant)
            if d is not None and d.hooks is not None and d.role == "leader":
                d.hooks.wake()

        self.listener = InboxListener(self.settings.database_url, on_notify)
        self.listener_task = asyncio.get_running_loop().create_task(self.listener.run())

    # ---- leadership -------------------------------------------------------------------------
    async def watch(self, stop: asyncio.Event) -> None:
        """PostgreSQL: ``balance`` every ``schedule.leader_check_seconds`` until ``stop``."""
        every = self.settings.schedule.leader_check_seconds
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            if stop.is_set() or not self.elect:
                continue
            try:
                await self.balance()
            except Exception as exc:  # the database away: look again at the next check
                log.warning("leader_check_failed", error=describe_db_error(exc))

    async def balance(self, stop: asyncio.Event | None = None) -> None:
        """One check: stand by where a lock was lost; count the replicas; take free tenants
        up to the fair share, or hand back a surplus (``syncd.daemon.share``)."""
        assert self.members is not None
        for name in self.leading:
            d = self.daemons[name]
            if not await asyncio.to_thread(d.locks_alive):
                await d.lose_lead()
        if self.stopping:
            return
        view = await asyncio.to_thread(self.members.view, self.names)
        assert self.members.id is not None
        if len(view.members) != self.replicas:
            log.info("replicas", live=len(view.members), tenants=len(self.names))
        self.replicas = len(view.members)
        share = fair_share(len(self.names), self.replicas)
        self.over_checks = self.over_checks + 1 if len(self.leading) > share else 0
        moves = plan(
            self.names, self.members.id, self.replicas, self.leading, view.held, self.over_checks
        )
        for name in moves.hand_back:
            await self.daemons[name].hand_back()
        room = moves.room
        for name in moves.take:
            if room <= 0 or self.stopping or (stop is not None and stop.is_set()):
                break
            d = self.daemons[name]
            if await asyncio.to_thread(d.try_lead):
                log.info("leading", tenant=name, replicas=self.replicas)
                d.lead()
                room -= 1

    # ---- the SQLite file under the daemon --------------------------------------------------
    def file_problem(self) -> str | None:
        """SQLite: why the file the fleet's locks guard is no longer the mirror (deleted,
        replaced, its lock file deleted), one line; None while it is (and on PostgreSQL).
        A stat and an fstat per lock."""
        if self.lost is None:
            self.lost = next((p for lock in self.file_locks if (p := lock.problem())), None)
        return self.lost

    def _refuse_lost_file(self, _dbapi_conn: Any, _record: Any) -> None:
        lost = self.file_problem()
        if lost is not None:
            raise MirrorFileLostError(lost)

    async def watch_file(self, stop: asyncio.Event) -> None:
        """SQLite: every ``FILE_CHECK_SECONDS``, or at once when a job or /readyz found it
        first, stop the daemon when its file is deleted or replaced: nothing more is written
        to a file nobody will read again; the jobs running are cancelled and ``syncd run``
        exits 6 naming the file (``serve``)."""
        from syncd.mirror.lock import FILE_CHECK_SECONDS

        if self.elect:
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=FILE_CHECK_SECONDS)
            if self.file_problem() is not None:
                log.error("mirror_file_lost", error=self.lost, action="stopping")
                stop.set()
                return

    # ---- the event loop's pulse -------------------------------------------------------------
    async def heartbeat(self, stop: asyncio.Event, notify: Any) -> None:
        """Beat every second: ``/healthz`` reads the last beat; systemd's watchdog is fed from
        here, so a stuck loop stops feeding it."""
        every = 1.0
        if notify.watchdog_seconds:
            every = min(every, notify.watchdog_seconds / 2)
        while not stop.is_set():
            self.loop_beat = time.monotonic()
            notify.watchdog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


async def _unless(stop: asyncio.Event | None, work: Coroutine[Any, Any, None]) -> bool:
    """Run ``work`` to its end (True; its exception raised), or cancel it once ``stop`` is set
    (False): a SIGTERM during a slow credential check stops at once."""
    task = asyncio.ensure_future(work)
    if stop is None:
        await task
        return True
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    await task
    return True
