"""Interviews and their timeslots, read per application after the candidates pass.

The API lists interviews only per application
(``GET /interviews-api/v201904/interviews?applicationId=``), and creating or editing one changes
neither the application nor the candidate, and leaves no audit event. So a pass reads the
interviews of applications that are new or changed in it (``interviews_pending``, set with the
application's row) and whose status history reached one of ``interview_statuses``; a complete
pass flags every application, reads those of every such application and tombstones what the API
no longer returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection

from syncd.ats import absent_ok
from syncd.mirror import child_queries as cq
from syncd.mirror import followup_queries as fq
from syncd.mirror import followup_records as fr
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change, utcnow
from syncd.sync.changes import change_records
from syncd.sync.followups import FollowUpsMixin
from syncd.sync.passes import PassReport

log = structlog.get_logger("syncd.sync")

MARK = "candidates.interviews"  # sync_state row: the complete pass that flagged every application
AppKey = tuple[str, str]


class InterviewsMixin(FollowUpsMixin):
    async def _read_interviews(self, report: PassReport, *, full: bool) -> None:
        """One call per flagged application that reached an interview status (every such
        application in a complete pass); the rest only clear their flag."""
        statuses = sorted(set(self.settings.interview_statuses))
        if not statuses:
            return  # off: flags stay set, so turning it on reads what changed meanwhile
        started = report.started_at
        if full:
            self._flag_all_once(started)
        self._clear_unreached(statuses)
        a = s.applications
        unsure: set[AppKey] = set()  # a payload was quarantined: absence proves nothing
        calls = 0

        async def call(p: Row) -> list[Any] | None:
            nonlocal calls
            if not p["application_id"]:
                # Without the audit feed a new application may not know its id yet: one details
                # call tells it (rare: the audit feed's JOB_APPLICATION_CREATED carries it).
                calls += 1
                p["found_id"] = await self._application_id_of(p)
                p["application_id"] = p["found_id"]
                if not p["application_id"]:
                    return None
            calls += 1
            return await self._interviews_of(p["application_id"])

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            self.m.set_columns(
                conn,
                a,
                [{**_key(p), "application_id": aid} for p in batch if (aid := p.get("found_id"))],
            )
            asked = [(p, items) for p, items in zip(batch, got, strict=True) if items is not None]
            self._write_interviews(
                conn,
                [p for p, _ in asked],
                [items for _, items in asked],
                report,
                unsure,
                now=now,
                full=full,
            )

        await self._followup_calls(a, "interviews_pending", ("application_id",), call, write)
        now = utcnow()
        with self.m.begin() as conn:
            i = s.interviews
            if full:
                # A complete pass touched every interview it was given: the rest are gone.
                stale = self._unseen(conn, i, started, unsure)
                self._tombstone_interviews(conn, stale, now=now)
                t = s.interview_timeslots
                slots = self._unseen(conn, t, started, unsure)
                self._tombstone_timeslots(conn, "id", slots, now=now)
            # Interviews of applications tombstoned since (left their candidate's list).
            orphans = fq.orphan_interviews(conn, self.m.tenant)
            self._tombstone_interviews(conn, orphans, now=now)
        log.info("interviews_read", applications=calls, full=full)

    def _unseen(
        self, conn: Connection, table: Any, started: datetime, unsure: set[AppKey]
    ) -> list[str]:
        """Ids of live rows a complete pass did not see, except under applications whose
        answer had a quarantined payload (absence proves nothing there)."""
        rows = cq.unseen_of_applications(conn, self.m.tenant, table, started)
        return [rid for rid, cid, jid in rows if (cid, jid) not in unsure]

    def _flag_all_once(self, started: datetime) -> None:
        """A complete pass owes every live application a read: flag them all, once per pass.
        The marker (``sync_state`` row ``MARK``, the pass's start) commits with the flags, so a
        killed pass resumes with the applications it had not read yet."""
        with self.m.begin() as conn:
            if self.m.state(conn, MARK)["pass_started_at"] == started:
                return
            fq.flag_all_interviews(conn, self.m.tenant)
            self.m.save_state(conn, MARK, pass_started_at=started)

    def _clear_unreached(self, statuses: list[str]) -> None:
        """Flags of applications that neither are in nor ever were in one of ``statuses`` clear
        in one statement: they cost no call (in the sandbox, about half of them)."""
        with self.m.begin() as conn:
            fq.clear_unreached_interviews(conn, self.m.tenant, statuses)

    async def _application_id_of(self, p: Row) -> str | None:
        body = await self._details_of(p)
        aid = body.get("applicationId") if body is not None else None
        return str(aid) if aid else None

    async def _interviews_of(self, application_id: str) -> list[Any]:
        """The application's interviews; none when the application is gone (404)."""
        async with self.sem:
            return list(await absent_ok(self.sr.interviews.list(application_id)) or [])

    def _write_interviews(
        self,
        conn: Connection,
        apps: list[Row],
        got: list[list[Any]],
        report: PassReport,
        unsure: set[AppKey],
        *,
        now: datetime,
        full: bool,
    ) -> None:
        """Upsert what the API returned for ``apps``; tombstone their stored interviews and
        timeslots it no longer returns (not when a payload of the same parent was quarantined:
        its id is unknown)."""
        ivs: list[Row] = []
        slots: list[Row] = []
        returned: dict[AppKey, set[str]] = {}  # application -> interview ids, when sure
        slot_ids: dict[str, set[str]] = {}  # interview -> timeslot ids, when sure
        for p, items in zip(apps, got, strict=True):
            key = (p["candidate_id"], p["job_id"])
            ids: set[str] = set()
            sure = True
            for item in items:
                try:
                    row = fr.interview_row(*key, p["application_id"], item)
                except Invalid as exc:
                    self._quarantine(conn, "interviews", "/".join(key), str(exc), item, report, now)
                    sure = False
                    continue
                ivs.append(row)
                ids.add(row["id"])
                mine: set[str] | None = set()
                for raw in fr.timeslots_of(row["raw"]):
                    try:
                        slot = fr.timeslot_row(row["id"], *key, raw)
                    except Invalid as exc:
                        self._quarantine(
                            conn, "interview_timeslots", row["id"], str(exc), raw, report, now
                        )
                        mine = None
                        continue
                    slots.append(slot)
                    if mine is not None:
                        mine.add(slot["id"])
                if mine is not None:
                    slot_ids[row["id"]] = mine
            if sure:
                returned[key] = ids
            else:
                unsure.add(key)
        ir = self.m.upsert(conn, s.interviews, ivs, now=now, touch=full)
        sr = self.m.upsert(conn, s.interview_timeslots, slots, now=now, touch=full)
        changes = change_records("interviews", ir, full=full)
        changes += change_records("interview_timeslots", sr, full=full)
        self.m.emit(conn, changes, run_id=self.run_id, now=now)
        # What the API no longer returns: interviews of the applications asked about, and
        # timeslots of the interviews it returned.
        t = s.interview_timeslots
        gone_ivs = [
            iid
            for iid, cid, jid in cq.live_application_children(
                conn, self.m.tenant, s.interviews, {k[0] for k in returned}
            )
            if (cid, jid) in returned and iid not in returned[(cid, jid)]
        ]
        self._tombstone_interviews(conn, gone_ivs, now=now)
        gone_slots = [
            sid
            for iid, (sid,) in cq.live_keys_of(conn, self.m.tenant, t, "interview_id", slot_ids)
            if sid not in slot_ids[iid]
        ]
        self._tombstone_timeslots(conn, "id", gone_slots, now=now)

    def _tombstone_interviews(self, conn: Connection, ids: list[str], *, now: datetime) -> None:
        """Interviews and all their timeslots; raw keeps ids and dates only (the interview's
        raw names the candidate)."""
        for n in range(0, len(ids), 500):
            chunk = ids[n : n + 500]
            gone = self.m.tombstone_in(
                conn, s.interviews, "id", chunk, at=now, keep_raw=("id", "jobId", "createdOn")
            )
            self.m.emit(
                conn,
                [Change("interviews", g["id"], "deleted") for g in gone],
                run_id=self.run_id,
                now=now,
            )
            self._tombstone_timeslots(conn, "interview_id", chunk, now=now)

    def _tombstone_timeslots(
        self, conn: Connection, column: str, ids: list[str], *, now: datetime
    ) -> None:
        """Timeslots whose ``column`` (their id, or their interview's) is one of ``ids``."""
        gone = self.m.tombstone_in(
            conn,
            s.interview_timeslots,
            column,
            ids,
            at=now,
            keep_raw=("id", "startsOn", "endsOn"),
        )
        self.m.emit(
            conn,
            [Change("interview_timeslots", g["id"], "deleted") for g in gone],
            run_id=self.run_id,
            now=now,
        )


def _key(p: Row) -> Row:
    return {"candidate_id": p["candidate_id"], "job_id": p["job_id"]}
