"""Deletions, as each resource declares them (``DeletePolicy`` and its children's ``Cascade``):
what a complete pass did not list is gone, dependent rows leave with their parent, and personal
columns are cleared (a deleted candidate keeps only ids and dates)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import Connection

from syncd.mirror import child_queries as cq
from syncd.mirror.store import Change
from syncd.sync.base import EngineBase
from syncd.sync.catalogue import BY_NAME, Resource, cascades
from syncd.sync.changes import record_key
from syncd.sync.passes import PassReport

log = structlog.get_logger("syncd.sync")


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
        """After a complete pass: what was not listed is gone, and so are the rows of its
        ``swept`` children (embedded in the listed records) that the pass did not touch."""
        stale = cq.stale_ids(conn, self.m.tenant, res.table, started)
        for i in range(0, len(stale), 500):
            self._delete(conn, res.name, stale[i : i + 500], at=now, report=report)
        for child in res.children:
            if not child.swept:
                continue
            keep_raw = child.cascade.keep_raw if child.cascade else ("id",)
            gone = self.m.tombstone_unseen(conn, child.table, started, at=now, keep_raw=keep_raw)
            self.m.emit(
                conn,
                [Change(child.name, record_key(child.name, g), "deleted") for g in gone],
                run_id=self.run_id,
                now=now,
            )
        log.info("sweep_done", resource=res.name, deleted=len(stale))

    def _delete(
        self, conn: Connection, resource: str, ids: list[str], *, at: datetime, report: PassReport
    ) -> None:
        """Tombstone the records ``ids`` of ``resource`` per its delete policy, their dependent
        rows per the declared cascades, and write their ``deleted`` change records."""
        res = BY_NAME[resource]
        gone = self.m.tombstone_in(conn, res.table, "id", ids, at=at, clear=res.delete.clear)
        for c in cascades(res):
            self.m.tombstone_in(
                conn,
                c.table,
                c.column,
                ids,
                at=at,
                where=dict(c.where),
                clear=c.clear,
                keep_raw=c.keep_raw,
            )
        for f in res.delete.forget:
            self.m.clear_in(conn, f.table, f.column, ids, f.clear)
        report.counts.deleted += len(gone)
        self.m.emit(
            conn,
            [Change(res.name, g["id"], "deleted") for g in gone],
            run_id=self.run_id,
            now=at,
        )
