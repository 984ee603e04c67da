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

from sqlalchemy import Connection, Table

from syncd.ats import absent_ok
from syncd.mirror import followup_queries as fq
from syncd.mirror.isolate import write_isolated
from syncd.mirror.records import Row
from syncd.mirror.store import Key, key_columns, key_of, key_text, utcnow
from syncd.sync.base import EngineBase

Call = Callable[[Row], Awaitable[Any]]
Write = Callable[[Connection, list[Row], list[Any], datetime], None]


class FollowUpsMixin(EngineBase):
    async def _followup_calls(
        self,
        table: Table,
        flag: str,
        cols: Sequence[str],
        call: Call,
        write: Write,
        *,
        only: fq.Only | None = None,
    ) -> None:
        """``call`` for each row flagged ``flag`` (and satisfying ``only``), ``write``
        (connection, batch, answers, now) per batch; the batch's flags are cleared in the same
        transaction as its write. ``cols``: columns read beside the key."""
        after: Key | None = None
        writing: asyncio.Future[None] | None = None
        try:
            while True:
                with self.m.begin() as conn:
                    batch = fq.flagged_batch(
                        conn, self.m.tenant, table, flag, after, cols, only=only
                    )
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
        self, table: Table, flag: str, write: Write, batch: list[Row], got: list[Any]
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
                conn, table, [{**{k: p[k] for k in keys}, flag: False} for p in batch]
            )

    async def _details_of(self, p: Row) -> dict[str, Any] | None:
        """``GET /candidates/{id}/jobs/{jobId}`` of the application ``p``; None when gone."""
        async with self.sem:
            body = await absent_ok(self.sr.applications.get(p["candidate_id"], p["job_id"]))
        return dict(body) if body is not None else None
