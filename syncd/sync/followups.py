"""Per-record calls owed after a walk: rows flagged in the mirror (``history_pending``,
``details_pending``, ``approval_pending`` …) get their calls in batches, in primary-key order.

The calls of one batch run (8 in flight, the client's limit) while the previous batch is written
in a worker thread, in its own transaction, which also clears that batch's flags. A kill loses at
most the batches not yet committed: their flags are still set, and the next pass makes their
calls again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, and_, or_, select

from syncd.mirror.isolate import write_isolated
from syncd.mirror.records import Row
from syncd.mirror.store import Key, key_columns, key_of, key_text, utcnow
from syncd.sync.base import EngineBase

FOLLOWUP_BATCH = 400  # rows per batch: one batch's calls overlap the previous batch's write

Call = Callable[[Row], Awaitable[Any]]
Write = Callable[[Connection, list[Row], list[Any], datetime], None]


def _after(keys: Sequence[Column[Any]], after: Key) -> ColumnElement[bool]:
    """Keys strictly after ``after`` in primary-key order (one or two key columns)."""
    if len(keys) == 1:
        return keys[0] > after[0]
    return or_(keys[0] > after[0], and_(keys[0] == after[0], keys[1] > after[1]))


class FollowUpsMixin(EngineBase):
    def _flagged_batch(
        self, conn: Connection, table: Table, flag: Any, after: Key | None, cols: Sequence[Any]
    ) -> list[Row]:
        """Up to FOLLOWUP_BATCH live rows with ``flag`` set after the key ``after`` (the previous
        batch's last, whose flags may not be cleared yet)."""
        keys = key_columns(table)
        cond = [table.c.tenant == self.m.tenant, flag.is_(True), table.c.deleted_at.is_(None)]
        if after is not None:
            cond.append(_after(keys, after))
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(*keys, *cols).where(*cond).order_by(*keys).limit(FOLLOWUP_BATCH)
            )
        ]

    async def _followup_calls(
        self, table: Table, flag: Any, cols: Sequence[Any], call: Call, write: Write
    ) -> None:
        """``call`` for each flagged row, ``write`` (connection, batch, answers, now) per batch;
        the batch's flags are cleared in the same transaction as its write."""
        after: Key | None = None
        writing: asyncio.Future[None] | None = None
        try:
            while True:
                with self.m.begin() as conn:
                    batch = self._flagged_batch(conn, table, flag, after, cols)
                if not batch:
                    break
                after = key_of(table, batch[-1])
                got = await self._gather([call(p) for p in batch])
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(
                    asyncio.to_thread(self._write_batch, table, flag, write, batch, got)
                )
        finally:
            if writing is not None:
                await writing

    def _write_batch(
        self, table: Table, flag: Any, write: Write, batch: list[Row], got: list[Any]
    ) -> None:
        keys = [c.name for c in key_columns(table)]
        now = utcnow()
        with self.m.begin() as conn:

            def part(pairs: Sequence[tuple[Row, Any]]) -> None:
                write(conn, [p for p, _ in pairs], [g for _, g in pairs], now)

            def refused(pair: tuple[Row, Any], why: str) -> None:
                # One record the database refuses never stops the batch (syncd.mirror.isolate).
                key = key_text(key_of(table, pair[0]))
                self.m.quarantine(conn, table.name, key, why, None, run_id=self.run_id, now=now)

            write_isolated(conn, list(zip(batch, got, strict=True)), part, refused)
            self.m.set_columns(
                conn, table, [{**{k: p[k] for k in keys}, flag.name: False} for p in batch]
            )

    async def _details_of(self, p: Row) -> dict[str, Any] | None:
        """``GET /candidates/{id}/jobs/{jobId}`` of the application ``p``; None when gone."""
        from syncd.ats import NotFoundError

        try:
            async with self.sem:
                body = await self.sr.applications.get(p["candidate_id"], p["job_id"])
                return dict(body)
        except NotFoundError:
            return None


def same_application(t: Any, other: Any) -> list[ColumnElement[bool]]:
    """``t``'s row belongs to the same application as ``other``'s (tenant, candidate, job): the
    correlation of the set-based follow-up statements."""
    return [
        t.c.tenant == other.c.tenant,
        t.c.candidate_id == other.c.candidate_id,
        t.c.job_id == other.c.job_id,
    ]
