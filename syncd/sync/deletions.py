"""Deletions: what a complete pass did not list is gone, and a deleted candidate keeps only ids
and dates (its personal data leaves the mirror)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import Connection, and_, select

from syncd.mirror import schema as s
from syncd.mirror.store import Change
from syncd.sync.base import EngineBase
from syncd.sync.catalogue import Resource
from syncd.sync.passes import PassReport

log = structlog.get_logger("syncd.sync")

PERSONAL = ("first_name", "last_name", "email", "city", "country_code")


class DeletionsMixin(EngineBase):
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
        # Interviews name the candidate in raw: cut to ids and dates like the rest.
        i, t, ap = s.interviews, s.interview_timeslots, s.approvals
        self.m.tombstone(
            conn, i, i.c.candidate_id.in_(ids), at=at, keep_raw=("id", "jobId", "createdOn")
        )
        self.m.tombstone(
            conn, t, t.c.candidate_id.in_(ids), at=at, keep_raw=("id", "startsOn", "endsOn")
        )
        self.m.tombstone(conn, ap, ap.c.candidate_id.in_(ids), at=at)
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
        ap = s.approvals
        self.m.tombstone(
            conn, ap, and_(ap.c.subject_type == "job", ap.c.subject_id.in_(ids)), at=at
        )
        report.counts.deleted += len(gone)
        self.m.emit(
            conn, [Change("jobs", g["id"], "deleted") for g in gone], run_id=self.run_id, now=at
        )
