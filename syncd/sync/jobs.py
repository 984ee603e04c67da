"""Jobs' children: status history and positions, fetched for jobs that are new or changed."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete

from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change, UpsertResult
from syncd.sync.base import EngineBase
from syncd.sync.changes import change_records
from syncd.sync.passes import PassReport


class JobsMixin(EngineBase):
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
        report: PassReport,
        *,
        now: datetime,
        full: bool,
    ) -> None:
        # Their latest approval is owed a read too (approvals.py), committed with the rows.
        self.m.set_columns(
            conn, s.jobs, [{"id": jid, "approval_pending": True} for jid in children]
        )
        for jid, (hist, pos) in children.items():
            try:
                hrows = rec.job_history_rows(jid, hist)
                prows = [rec.position_row(jid, p) for p in pos]
            except Invalid as exc:
                # The job's row stays; its children wait in quarantine, counted in the report.
                raw = {"statusHistory": hist, "positions": pos}
                self._quarantine(conn, "jobs", jid, str(exc), raw, report, now)
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
            changes = change_records("positions", pr, full=full) + [
                Change("positions", g["id"], "deleted") for g in gone
            ]
            self.m.emit(conn, changes, run_id=self.run_id, now=now)
