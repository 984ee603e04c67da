"""The dispatcher: one pass per sink reads the outbox from the sink's cursor, turns hires and
revocations into deliveries, sends the ones whose turn it is, reads onboarding status back and
writes it to SmartRecruiters.

- **Cursor and deliveries in one transaction**: a pass that dies after reading the outbox has
  either recorded the deliveries and moved the cursor, or neither.
- **In flight before the wire**: a delivery is marked ``in_flight`` (attempt counted, payload and
  external key fixed) and committed before it is sent. After a crash it is sent again with the
  same ``delivery_id``; a sink that can look people up is asked first (lookup before every
  create, and always for an outcome that is unknown), so a create is never retried blind.
- **Retries are scheduled, never slept**: a pass makes at most one attempt per delivery. A
  failed one (429, 5xx, timeout, 401/403) goes back to ``pending`` with ``next_attempt_at``
  (``retry_delay``: exponential from ``retry_initial_seconds`` to ``retry_max_seconds``, at
  least the target's ``Retry-After``) and a later pass takes it; after ``max_attempts`` it is a
  dead letter (``dead``) with the target's last message. A permanent refusal is a dead letter
  at once (``rejected``, the target's own message kept).
- **An outage ends the pass**: once an attempt finds the target unavailable, the pass starts no
  other delivery of that sink (those not yet sent go back unchanged, no attempt counted), so a
  pass lasts at most about one round of the sink's timeouts, and an outage uses up one attempt
  per pass, not the whole budget. When the target answers again, deliveries put off by the
  outage are due at once (``deliveries.due_sooner``).
- **Writes through a gate**: every write transaction is taken under ``write_gate`` (the daemon's
  write lock on SQLite, where the file has one writer); HTTP is never awaited inside one, so a
  pull or a webhook refresh waits at most for one short write of the push, never for a target.
- **Order**: only the oldest open delivery of each person is handed out, so one person's hire and
  revocation never overtake each other; other people and other sinks go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from syncd.delivery.sinks import ConfiguredSink
from syncd.mirror import deliveries as q
from syncd.mirror import hires, outbox
from syncd.mirror.records import Row, parse_ts
from syncd.mirror.store import utcnow
from syncd.sinks.base import (
    ONBOARDING_FAILED,
    ONBOARDING_SUCCESSFUL,
    Capability,
    Delivery,
    Outcome,
    TargetUnavailable,
)
from syncd.sinks.config import SinkConfig

log = structlog.get_logger("syncd.delivery")

READY_TO_ONBOARD = "READY_TO_ONBOARD"
AppKey = tuple[str, str]
# One write: the application (candidate_id, job_id), the hire round it is for, the status.
Write = tuple[AppKey, int, str]
# The writes of a pass, in order -> None. None: write-back off.
WriteBack = Callable[[list[Write]], Awaitable[None]]
# A gate every write transaction of the push is taken under (None: none needed).
WriteGate = Callable[[], AbstractAsyncContextManager[Any]]
JITTER = 0.2  # a scheduled retry comes up to 20 % later than its base delay, never earlier


def retry_delay(
    attempts: int, cfg: SinkConfig, retry_after: float | None = None, *, rnd: float | None = None
) -> float:
    """Seconds from a failed attempt to the next one, after ``attempts`` attempts in all (>= 1):
    ``min(retry_max_seconds, retry_initial_seconds * 2 ** (attempts - 1))``, plus up to 20 %
    jitter (so a backlog that failed together does not come back in one burst), and never
    shorter than the target's ``Retry-After`` up to ``retry_max_seconds``. ``rnd`` in [0, 1]
    replaces the random draw (tests). The schedule is documented in docs/push.md ("Retries")."""
    base = min(cfg.retry_max_seconds, cfg.retry_initial_seconds * 2.0 ** max(0, attempts - 1))
    draw = random.random() if rnd is None else rnd
    # A Retry-After is honoured up to retry_max_seconds: a target asking for hours (a daily
    # quota) is asked again after retry_max_seconds rather than holding the hire that long.
    asked = min(retry_after or 0.0, cfg.retry_max_seconds)
    return max(base * (1.0 + JITTER * draw), asked)


@dataclass
class SinkReport:
    sink: str
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    rejected: int = 0
    dead: int = 0
    waiting: int = 0
    skipped: int = 0
    parked: int = 0  # Retry-After longer than retry_max_seconds: scheduled as the target asked
    retrying: int = 0  # failed for now: scheduled for a later pass (next_attempt_at)
    held: int = 0  # not sent: the target was found unavailable earlier in the pass
    # The pass ended on an unavailable target: seconds until it is worth asking again (the
    # target's Retry-After, else the failed delivery's scheduled wait). None: it did not.
    resume_after: float | None = None
    # The pass found the target unreachable or failing (a connection refused, a timeout, 408 or
    # 5xx; not 429, the target's own pace, nor 401/403, alerted as sink_auth_refused): the
    # first such attempt's reason ("cannot connect (ConnectError)", "HTTP 503" ...). None: it
    # did not. The daemon warns once per outage from it (sink_unreachable).
    outage: str | None = None
    read_back: int = 0
    cursor: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        tenant: str,
        *,
        write_back: WriteBack | None,
        write_gate: WriteGate | None = None,
    ) -> None:
        self.engine = engine
        self.tenant = tenant
        self.write_back = write_back
        self.write_gate = write_gate

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Connection]:
        """A write transaction under the gate; nothing awaited inside it."""
        async with self.write_gate() if self.write_gate else contextlib.nullcontext():
            with self.engine.begin() as conn:
                yield conn

    # ---- one pass of one sink ---------------------------------------------------------------
    async def run_sink(self, cs: ConfiguredSink) -> SinkReport:
        report = SinkReport(cs.name)
        # People not to hand out again in this pass: their hire's details are still owed, or
        # their delivery failed (or was held back) in this pass.
        self._waiting: set[str] = set()
        self._down = False  # an attempt found the target unavailable: no more sends this pass
        self._since = utcnow()
        self._caps = cs.sink.capabilities_now()
        self._type = cs.sink.type
        await self._start(cs, report)
        await self._consume(cs, report)
        while not self._down and (batch := await self._take(cs, report)) is not None:
            if batch:
                await self._send(cs, batch, report)
        if cs.config.status_policy == "on-activation" and (
            Capability.STATUS in cs.sink.capabilities_now()
        ):
            await self._read_back(cs, report)
        await self._write_back(cs)
        return report

    # ---- the sink's cursor ------------------------------------------------------------------
    async def _start(self, cs: ConfiguredSink, report: SinkReport) -> None:
        """A new sink's cursor: the outbox head; with ``start = beginning`` or a date, every hire
        in the mirror (made on or after the date) queued first."""
        now = utcnow()
        async with self._tx() as conn:
            cur = q.get_cursor(conn, self.tenant, cs.name)
            if cur is not None:
                report.cursor = int(cur["sequence"])
                return
            head = outbox.head(conn, self.tenant)
            if cs.config.start != "now":
                apps = hires.hired_applications(
                    conn, self.tenant, hired_since=cs.config.start_date()
                )
                report.queued += q.enqueue(
                    conn,
                    self.tenant,
                    cs.name,
                    [
                        {"candidate_id": c, "job_id": j, "event_type": q.HIRED, "sequence": None}
                        for c, j, _ in apps
                    ],
                    now=now,
                )
            q.set_cursor(conn, self.tenant, cs.name, head, start=cs.config.start, now=now)
            report.cursor = head
            log.info("sink_started", sink=cs.name, start=cs.config.start, cursor=head)

    async def _consume(self, cs: ConfiguredSink, report: SinkReport) -> None:
        """Outbox events after the cursor to deliveries, cursor moved in the same transaction."""
        while True:
            now = utcnow()
            async with self._tx() as conn:
                events, last = outbox.read(conn, self.tenant, after=report.cursor, limit=1000)
                if last == report.cursor:
                    return
                items = self._items(conn, cs.name, events)
                report.queued += q.enqueue(conn, self.tenant, cs.name, items, now=now)
                skipped = self._skip_unsent_hires(conn, cs.name, items, now=now)
                report.skipped += skipped
                q.set_cursor(conn, self.tenant, cs.name, last, start=cs.config.start, now=now)
                report.cursor = last

    def _items(self, conn: Any, sink: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hires, and revocations of hires this sink has (or may have) received, in outbox
        order, each with its hire round: an application's first hire at the sink is round 1; a
        hire after a revocation (the person hired again) is the next round, delivered anew; a
        hire seen again without a revocation between is the same round (enqueue leaves it).
        A sink that cannot revoke gets the revocation recorded as skipped: the next hire of
        that application is then a new round too."""
        cids = {e["subject"].get("candidate_id") for e in events}
        rounds = q.rounds_of_candidates(conn, self.tenant, sink, sorted(c for c in cids if c))
        can_revoke = Capability.REVOKE in self._caps
        out: list[dict[str, Any]] = []
        unsupported = 0

        def revoke(key: AppKey, seq: int) -> None:
            nonlocal unsupported
            latest = rounds.get(key)
            if latest is None or latest[1]:  # never hired here, or this round already undone
                return
            rounds[key] = (latest[0], True)
            item = {
                "candidate_id": key[0],
                "job_id": key[1],
                "event_type": q.REVOKED,
                "sequence": seq,
                "hire_round": latest[0],
            }
            if not can_revoke:
                unsupported += 1
                item |= {
                    "state": "skipped",
                    "reason": f"sink type {self._type!r} cannot revoke; the person stays there",
                }
            out.append(item)

        for e in events:
            subject, kind, seq = e["subject"], e["type"], e["sequence"]
            key = (subject.get("candidate_id"), subject.get("job_id"))
            if kind == q.HIRED and key[0] and key[1]:
                latest = rounds.get(key)
                n = 1 if latest is None else latest[0] + 1 if latest[1] else latest[0]
                rounds[key] = (n, False)
                out.append(
                    {
                        "candidate_id": key[0],
                        "job_id": key[1],
                        "event_type": q.HIRED,
                        "sequence": seq,
                        "hire_round": n,
                    }
                )
            elif kind == q.REVOKED and key[0] and key[1]:
                revoke(key, seq)  # status moved away from HIRED
            elif kind == "candidate.deleted" and key[0]:
                for k in sorted(k for k in rounds if k[0] == key[0]):
                    revoke(k, seq)
            elif kind == "offer.updated" and key[0] and key[1]:
                status = e["changes"].get("status") or {}
                if status.get("old") == "ACCEPTED" and status.get("new") != "ACCEPTED":
                    revoke(key, seq)  # the offer was withdrawn after acceptance
        if unsupported:
            log.warning("revocations_not_supported", sink=sink, count=unsupported)
        return out

    def _skip_unsent_hires(
        self, conn: Any, sink: str, items: list[dict[str, Any]], *, now: datetime
    ) -> int:
        """A hire undone before it was ever sent is skipped, and so is its revocation: the
        target never heard of the person."""
        keys = [
            (i["candidate_id"], i["job_id"], i["hire_round"])
            for i in items
            if i["event_type"] == q.REVOKED
        ]
        if not keys:
            return 0
        hires_ = q.of_rounds(conn, self.tenant, sink, keys, q.HIRED)
        revs = q.of_rounds(conn, self.tenant, sink, keys, q.REVOKED)
        n = 0
        for key, h in hires_.items():
            rev = revs.get(key)
            if rev is None or h["state"] != "pending" or h["attempts"] != 0:
                continue
            # A revocation of this pass is pending, or skipped when the sink cannot revoke.
            if rev["state"] in ("pending", "skipped"):
                reason = "hire undone in SmartRecruiters before it was sent"
                q.update_delivery(conn, h["id"], now=now, state="skipped", reason=reason)
                q.update_delivery(conn, rev["id"], now=now, state="skipped", reason=reason)
                n += 1
        return n

    # ---- sending -----------------------------------------------------------------------------
    async def _take(
        self, cs: ConfiguredSink, report: SinkReport
    ) -> list[tuple[Row, Delivery]] | None:
        """The next deliveries whose turn it is and whose hire is ready; each marked in flight
        (attempt counted, payload fixed) and committed before anything is sent. None when no
        delivery is due."""
        now = utcnow()
        out: list[tuple[Row, Delivery]] = []
        marks: list[dict[str, Any]] = []
        async with self._tx() as conn:
            rows = q.due(
                conn,
                self.tenant,
                cs.name,
                limit=cs.config.batch_size,
                now=now,
                skip=frozenset(self._waiting),
            )
            if not rows:
                return None
            hire_keys = [
                (r["candidate_id"], r["job_id"])
                for r in rows
                if r["event_type"] == q.HIRED and r["payload"] is None
            ]
            ready = hires.readiness(conn, self.tenant, hire_keys)
            records = hires.new_hire_records(
                conn, self.tenant, [k for k in hire_keys if ready.get(k) == "ready"]
            )
            hire_rows = q.of_rounds(
                conn,
                self.tenant,
                cs.name,
                [
                    (r["candidate_id"], r["job_id"], r["hire_round"])
                    for r in rows
                    if r["event_type"] == q.REVOKED
                ],
                q.HIRED,
            )
            for r in rows:
                key = (r["candidate_id"], r["job_id"])
                values: dict[str, Any] = {}
                if r["payload"] is None:
                    if r["event_type"] == q.HIRED:
                        state = ready.get(key)
                        if state == "waiting":
                            self._waiting.add(key[0])
                            report.waiting += 1
                            continue
                        if state != "ready" or key not in records:
                            q.update_delivery(
                                conn,
                                r["id"],
                                now=now,
                                state="skipped",
                                reason="no longer a live hire in SmartRecruiters",
                            )
                            report.skipped += 1
                            continue
                        rec = records[key]
                        data = cs.mapping.apply(rec) if cs.mapping else rec
                        values = {
                            "external_key": rec["external_key"],
                            "application_id": rec["ids"]["application_id"],
                            "payload": {"timestamp": rec["application"]["hired_on"], "data": data},
                        }
                    else:
                        h = hire_rows.get((*key, r["hire_round"]))  # the hire it undoes
                        ext = h["external_key"] if h and h["state"] == "delivered" else None
                        if ext is None:  # the hire never reached the target: nothing to revoke
                            q.update_delivery(
                                conn,
                                r["id"],
                                now=now,
                                state="skipped",
                                reason="the hire was never delivered to this sink",
                            )
                            report.skipped += 1
                            continue
                        values = {
                            "external_key": ext,
                            "application_id": h["application_id"] if h else None,
                            "payload": {
                                "timestamp": None,
                                "data": {
                                    "external_key": ext,
                                    "ids": {
                                        "candidate_id": key[0],
                                        "job_id": key[1],
                                        "application_id": h["application_id"] if h else None,
                                    },
                                    "target_id": h["target_id"] if h else None,
                                },
                            },
                        }
                payload: dict[str, Any] = values.get("payload") or r["payload"] or {}
                marks.append(
                    {"id": r["id"], "state": "in_flight", "attempts": r["attempts"] + 1, **values}
                )
                r = {**r, **values, "attempts": r["attempts"] + 1}
                stamp = parse_ts(payload.get("timestamp")) or r["created_at"]
                out.append(
                    (
                        r,
                        Delivery(
                            delivery_id=r["delivery_id"],
                            external_key=r["external_key"],
                            event_type=r["event_type"],
                            data=payload["data"],
                            timestamp=stamp,
                            target_id=r["target_id"],
                        ),
                    )
                )
            q.update_deliveries(conn, marks, now=now)
        return out

    async def _send(
        self, cs: ConfiguredSink, batch: list[tuple[Row, Delivery]], report: SinkReport
    ) -> None:
        """One attempt of each delivery (none after the target was found unavailable), then the
        outcomes recorded."""
        if Capability.BATCH in cs.sink.capabilities_now():
            outcomes = await _guarded(cs.sink.deliver)([d for _, d in batch])
            report.sent += len(batch)
            self._down = any(o.kind in ("retry", "auth") for o in outcomes)
            await self._record(
                cs, [(r, o) for (r, _), o in zip(batch, outcomes, strict=True)], report
            )
            return
        gate = asyncio.Semaphore(cs.config.concurrency)
        attempt = self._attempt(cs)

        async def one(row: Row, d: Delivery) -> tuple[Row, Outcome | None]:
            async with gate:
                if self._down:
                    return row, None  # not sent: the target is unavailable right now
                report.sent += 1
                out = (await attempt([d]))[0]
                if out.kind in ("retry", "auth"):
                    self._down = True
                return row, out

        results = await asyncio.gather(*(one(r, d) for r, d in batch))
        await self._record(cs, list(results), report)

    def _attempt(self, cs: ConfiguredSink) -> Callable[[list[Delivery]], Awaitable[list[Outcome]]]:
        sink = cs.sink
        lookup = Capability.LOOKUP in sink.capabilities_now()

        async def attempt(ds: list[Delivery]) -> list[Outcome]:
            d = ds[0]
            if lookup and d.event_type == q.HIRED:
                # Lookup before create: a person made by an earlier attempt whose answer was
                # lost (or by a run that was killed) is matched, not created twice.
                try:
                    found = await sink.lookup(d.external_key)
                except TargetUnavailable as exc:
                    return [Outcome("retry", reason=str(exc), retry_after=exc.retry_after)]
                if found is not None:
                    return [Outcome("accepted", target_id=found.target_id, reason="matched")]
            return await sink.deliver([d])

        return _guarded(attempt)

    async def _record(
        self,
        cs: ConfiguredSink,
        results: list[tuple[Row, Outcome | None]],
        report: SinkReport,
    ) -> None:
        """The outcomes in one transaction. ``None``: not sent (back to ``pending`` with the
        attempt uncounted). ``retry``/``auth``: a dead letter once ``max_attempts`` are used,
        else ``pending`` with ``next_attempt_at`` (``retry_delay``)."""
        now = utcnow()
        cfg = cs.config
        changes: list[dict[str, Any]] = []
        for row, o in results:
            if o is None or o.kind in ("retry", "auth"):
                self._waiting.add(row["candidate_id"])  # at most one attempt per pass
            if o is None:
                changes.append(
                    {"id": row["id"], "state": "pending", "attempts": row["attempts"] - 1}
                )
                report.held += 1
                continue
            values: dict[str, Any] = {
                "id": row["id"],
                "status_code": o.status_code,
                "attempts": row["attempts"],
                "next_attempt_at": None,
            }
            if o.kind == "auth":
                log.error("sink_auth_refused", sink=cs.name, status=o.status_code)
            if o.kind == "accepted":
                values |= {
                    "state": "delivered",
                    "target_id": o.target_id or row["target_id"],
                    "delivered_at": now,
                    "reason": None,
                }
                if cfg.status_policy == "on-create" and row["event_type"] == q.HIRED:
                    values["sink_status"] = ONBOARDING_SUCCESSFUL
                report.delivered += 1
            elif o.kind == "rejected":
                values |= {"state": "rejected", "reason": o.reason}
                report.rejected += 1
                log.warning(
                    "delivery_rejected",
                    sink=cs.name,
                    delivery=row["delivery_id"],
                    status=o.status_code,
                )
            elif row["attempts"] >= cfg.max_attempts:
                values |= {"state": "dead", "reason": o.reason}
                report.dead += 1
                log.warning(
                    "delivery_dead", sink=cs.name, delivery=row["delivery_id"], status=o.status_code
                )
            else:
                wait = retry_delay(row["attempts"], cfg, o.retry_after)
                reason = f"{o.reason or o.kind}; next attempt in {wait:.0f} s"
                if (o.retry_after or 0.0) > max(cfg.retry_max_seconds, 1.0):
                    reason = (
                        f"{o.reason or o.kind}; Retry-After {o.retry_after:.0f} s, longer than "
                        f"retry_max_seconds: next attempt in {wait:.0f} s"
                    )
                    report.parked += 1
                else:
                    report.retrying += 1
                values |= {
                    "state": "pending",
                    "reason": reason,
                    "next_attempt_at": now + timedelta(seconds=wait),
                }
                if self._down:
                    again = min(o.retry_after, wait) if o.retry_after else wait
                    report.resume_after = min(report.resume_after or again, again)
                if o.kind == "retry" and o.status_code != 429 and report.outage is None:
                    report.outage = o.reason or "no answer"
            changes.append(values)
        async with self._tx() as conn:
            q.update_deliveries(conn, changes, now=now)
            if any(o is not None and o.kind == "accepted" for _, o in results):
                # The target answers again: what an outage put off is due now, not at its
                # scheduled time (up to retry_max_seconds away).
                n = q.due_sooner(conn, self.tenant, cs.name, now=now, failed_before=self._since)
                if n:
                    log.info("sink_answers_again", sink=cs.name, due_now=n)

    # ---- status readback and write-back -------------------------------------------------------
    async def _read_back(self, cs: ConfiguredSink, report: SinkReport) -> None:
        with self.engine.connect() as conn:
            rows = q.to_read_back(conn, self.tenant, cs.name, limit=10_000)
        now = utcnow()
        for r in rows:
            try:
                p = await cs.sink.status(r["external_key"], r["target_id"])
            except TargetUnavailable as exc:
                report.errors.append(f"status readback: {exc}")
                log.warning("status_readback_failed", sink=cs.name, error=str(exc))
                return
            if p is None or p.onboarding is None or p.onboarding == r["sink_status"]:
                continue
            async with self._tx() as conn:
                q.update_delivery(conn, r["id"], now=now, sink_status=p.onboarding)
            report.read_back += 1

    async def _write_back(self, cs: ConfiguredSink) -> None:
        """The statuses each due hire asks for (``wanted_statuses``) that SmartRecruiters does
        not show yet, in order. syncd's last write counts only for the same hire round: a
        rehire (a later round) is written again from READY_TO_ONBOARD, each of its statuses
        once; a write for a later round than this sink's (another sink numbers the hires
        further) is left alone."""
        if self.write_back is None:
            return
        with self.engine.connect() as conn:
            rows = q.writeback_due(conn, self.tenant, cs.name)
            written = q.written_statuses(
                conn, self.tenant, [(r["candidate_id"], r["job_id"]) for r in rows]
            )
        calls: list[Write] = []
        for r in rows:
            key, n = (r["candidate_id"], r["job_id"]), int(r["hire_round"])
            last_round, last = written.get(key, (0, None))
            if last_round > n:
                continue
            prev: str | None = last if last_round == n else None
            for status in wanted_statuses(r):
                # A call only when the value changes, never back from a final value to READY.
                if status != prev and _rank(status) >= _rank(prev):
                    calls.append((key, n, status))
                    prev = status
        if calls:
            await self.write_back(calls)


def _guarded(
    call: Callable[[list[Delivery]], Awaitable[list[Outcome]]],
) -> Callable[[list[Delivery]], Awaitable[list[Outcome]]]:
    """A sink that raises (a bug, an unexpected error) is an attempt that failed with an unknown
    outcome: scheduled again, then a dead letter; never a pass that stops with deliveries in
    flight."""

    async def run(ds: list[Delivery]) -> list[Outcome]:
        try:
            return await call(ds)
        except Exception as exc:
            log.warning("sink_raised", error=type(exc).__name__)
            return [
                Outcome("retry", reason=f"the sink raised {type(exc).__name__}", unknown=True)
            ] * len(ds)

    return run


def wanted_statuses(row: Row) -> list[str]:
    """The onboarding statuses a hire delivery asks SmartRecruiters to show, in order."""
    if row["state"] == "rejected":
        return [ONBOARDING_FAILED]
    if row["state"] != "delivered":
        return []
    out = [READY_TO_ONBOARD]
    if row["sink_status"] in (ONBOARDING_SUCCESSFUL, ONBOARDING_FAILED):
        out.append(row["sink_status"])
    return out


def _rank(status: str | None) -> int:
    return {None: 0, READY_TO_ONBOARD: 1}.get(status, 2)


async def push_once(
    engine: Engine,
    tenant: str,
    sinks: list[ConfiguredSink],
    *,
    write_back: WriteBack | None,
    write_gate: WriteGate | None = None,
) -> list[SinkReport]:
    """One dispatch pass of every enabled sink (each failure reported, the others go on).
    ``write_gate``: taken around every write transaction (the daemon's write lock on SQLite)."""
    d = Dispatcher(engine, tenant, write_back=write_back, write_gate=write_gate)
    reports = []
    for cs in sinks:
        if not cs.config.enabled:
            continue
        try:
            reports.append(await d.run_sink(cs))
        except Exception as exc:
            log.error("sink_pass_failed", sink=cs.name, error=type(exc).__name__)
            r = SinkReport(cs.name)
            # The type only: a database error's text can quote a row's values.
            r.errors.append(
                f"the pass failed ({type(exc).__name__}); its deliveries are kept and the next "
                "push resumes them"
            )
            reports.append(r)
        finally:
            with contextlib.suppress(Exception):
                await cs.sink.close()
    return reports
