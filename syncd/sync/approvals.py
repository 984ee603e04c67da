"""The latest approval request of jobs and offers, read after the pass that flagged them.

Flags (``approval_pending``) are set with the row: on a job that is new or changed (jobs.py), on
an offer that is new or changed (offers.py), and from the audit feed's approval events
(``JOB_APPROVAL_*``, ``OFFER_APPROVAL_*``): a decision changes neither the job nor, for a step
that is not the last, the offer.

A job costs two calls: ``GET /jobs/{id}/approvals/latest`` names the request and what it asks
for, without its status, which ``GET /approvals-api/v201910/approvals/{id}`` gives. An offer past
CREATED costs one (``…/offers/{offerId}/approvals/latest`` is the request itself). A 404 means
no approval: nothing is stored (a stored one is tombstoned).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from syncd.ats import absent_ok
from syncd.mirror import child_queries as cq
from syncd.mirror import followup_records as fr
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change
from syncd.sync.changes import change_records
from syncd.sync.followups import FollowUpsMixin
from syncd.sync.passes import PassReport

APPROVAL_EVENTS = ("JOB_APPROVAL_", "OFFER_APPROVAL_")


class ApprovalsMixin(FollowUpsMixin):
    # ---- jobs -------------------------------------------------------------------------------
    async def _read_job_approvals(self, report: PassReport, *, full: bool) -> None:
        if not self.settings.approvals:
            return  # off: flags stay set, so turning it on reads what changed meanwhile
        j = s.jobs

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            rows: list[Row] = []
            absent: list[str] = []
            for p, (latest, request) in zip(batch, got, strict=True):
                jid = p["id"]
                if latest is None:
                    absent.append(jid)
                    continue
                try:
                    rows.append(fr.job_approval_row(jid, latest, request))
                except Invalid as exc:
                    raw = {"latest": latest, "request": request}
                    self._quarantine(conn, "approvals", f"job/{jid}", str(exc), raw, report, now)
            self._store_approvals(conn, "job", rows, absent, now=now, full=full)

        async def call(p: Row) -> tuple[Any, Any]:
            return await self._job_approval_of(p["id"])

        await self._followup_calls(j, "approval_pending", (), call, write)

    async def _job_approval_of(self, job_id: str) -> tuple[Any, Any]:
        """(latest, request): None, None when the job has none (404 APPROVALS_NOT_FOUND)."""
        async with self.sem:
            latest = await absent_ok(self.sr.jobs.latest_approval(job_id))
        if latest is None:
            return None, None
        aid = latest.get("approvalRequestId") if isinstance(latest, dict) else None
        if not isinstance(aid, str) or not aid:
            return latest, None  # quarantined by the mapper
        async with self.sem:
            return latest, await absent_ok(self.sr.approvals.get(aid))

    # ---- offers -----------------------------------------------------------------------------
    async def _read_offer_approvals(self, report: PassReport, *, full: bool) -> None:
        if not self.settings.approvals:
            return
        o = s.offers

        def wanted(p: Row) -> bool:
            # A CREATED offer has not been sent for approval; an offer whose application is
            # unknown cannot be asked about.
            return p["status"] not in (None, "CREATED") and bool(p["candidate_id"] and p["job_id"])

        async def call(p: Row) -> Any:
            return await self._offer_approval_of(p) if wanted(p) else None

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            rows: list[Row] = []
            absent: list[str] = []
            for p, body in zip(batch, got, strict=True):
                if not wanted(p):
                    continue
                if body is None:
                    absent.append(p["id"])
                    continue
                try:
                    rows.append(
                        fr.offer_approval_row(p["id"], p["candidate_id"], p["job_id"], body)
                    )
                except Invalid as exc:
                    self._quarantine(
                        conn, "approvals", f"offer/{p['id']}", str(exc), body, report, now
                    )
            self._store_approvals(conn, "offer", rows, absent, now=now, full=full)

        cols = ("candidate_id", "job_id", "status")
        await self._followup_calls(o, "approval_pending", cols, call, write)

    async def _offer_approval_of(self, p: Row) -> Any:
        """None: APPROVALS_NOT_FOUND (or the offer is gone: the audit feed says so)."""
        async with self.sem:
            return await absent_ok(
                self.sr.offers.latest_approval(p["candidate_id"], p["job_id"], p["id"])
            )

    # ---- the audit feed's approval events ---------------------------------------------------
    async def _approval_events(self, report: PassReport, *, full: bool) -> None:
        """Flag the jobs and offers named by approval events this audit pass stored for the
        first time, unless their approval was read after the event (minus the lag window, the
        same allowance for the server's clock as the cursors'); then read the jobs' approvals
        (the offers' are read after the offers pass). A subject without a stored approval
        compares with when its own row was last written (its approval was asked for then); one
        not in the mirror yet is left to its own list, which flags it as new."""
        if not self.settings.approvals:
            return
        newest: dict[tuple[str, str], datetime | None] = {}
        with self.m.begin() as conn:
            events = cq.approval_events_since(
                conn,
                self.m.tenant,
                APPROVAL_EVENTS,
                first_seen_from=report.started_at,
                dated_from=report.cursor_used,
            )
            for name, eid, when in events:
                if not eid:
                    continue
                key = ("job" if name.startswith("JOB_") else "offer", eid)
                prev = newest.get(key, when)
                newest[key] = None if when is None or prev is None else max(prev, when)
            if newest:
                self._flag_approval_subjects(conn, newest)
        # Outside the transaction above: the reads make API calls.
        await self._read_job_approvals(report, full=full)

    def _flag_approval_subjects(
        self, conn: Connection, newest: dict[tuple[str, str], datetime | None]
    ) -> None:
        """Flag the jobs and offers of ``newest`` (subject -> its newest approval event) whose
        approval was not read after that event."""
        read = self.m.existing(conn, s.approvals, list(newest))
        seen = {
            "job": cq.live_seen(conn, self.m.tenant, s.jobs, [i for k, i in newest if k == "job"]),
            "offer": cq.live_seen(
                conn, self.m.tenant, s.offers, [i for k, i in newest if k == "offer"]
            ),
        }
        due: dict[str, list[str]] = {"job": [], "offer": []}
        for (kind, sid), when in newest.items():
            if sid not in seen[kind]:
                continue
            row = read.get((kind, sid))
            ref = row["last_seen_at"] if row is not None else seen[kind][sid]
            if when is None or when >= ref - self.lag:
                due[kind].append(sid)
        for kind, table in (("job", s.jobs), ("offer", s.offers)):
            self.m.set_columns(
                conn, table, [{"id": i, "approval_pending": True} for i in sorted(due[kind])]
            )

    # ---- writing ----------------------------------------------------------------------------
    def _store_approvals(
        self,
        conn: Connection,
        kind: str,
        rows: list[Row],
        absent: list[str],
        *,
        now: datetime,
        full: bool,
    ) -> None:
        """Upsert the approvals read (``touch``: last_seen_at is when it was last read, which
        the audit events are compared with) and tombstone those the API no longer has."""
        t = s.approvals
        result = self.m.upsert(conn, t, rows, now=now, touch=True)
        changes = change_records("approvals", result, full=full)
        if absent:
            gone = self.m.tombstone_in(
                conn, t, "subject_id", absent, at=now, where={"subject_type": kind}
            )
            changes += [Change("approvals", f"{kind}/{g['subject_id']}", "deleted") for g in gone]
        self.m.emit(conn, changes, run_id=self.run_id, now=now)
