"""Declared children, executed: ``page`` children are read per parent with the parent's page (for
parents new or changed) and written in the page's transaction; ``followup`` children are read per
flagged parent after the walk. Each child's answer is mapped by its declared mapper; rows the
answer no longer lists are tombstoned (or deleted, for list positions); an answer the mirror
cannot store goes to quarantine alone (the parent and its other children are written)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from syncd.mirror import child_queries as cq
from syncd.mirror import followup_queries as fq
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change, UpsertResult, key_of
from syncd.sync.catalogue import Child, FollowUp, Resource, followup_order
from syncd.sync.changes import change_records, record_key
from syncd.sync.followups import FollowUpsMixin
from syncd.sync.passes import PassReport

# child name -> parent id -> the answer (None: the API said the parent is gone)
Fetched = dict[str, dict[str, Any]]


def page_children(res: Resource) -> tuple[Child, ...]:
    return tuple(c for c in res.children if c.fetch == "page")


class ChildrenMixin(FollowUpsMixin):
    # ---- children read with the parent's page --------------------------------------------------
    async def _page_children(self, res: Resource, rows: list[Row]) -> Fetched:
        """The ``page`` children of the parents among ``rows`` that are new or changed (one call
        per child and parent, under the client's concurrency)."""
        children = page_children(res)
        with self.m.begin() as conn:
            old = self.m.existing(conn, res.table, [key_of(res.table, r) for r in rows])
        changed = []
        for r in rows:
            prev = old.get(key_of(res.table, r))
            if (
                prev is None
                or prev["content_hash"] != r["content_hash"]
                or prev["deleted_at"] is not None
            ):
                changed.append(r)
        return await self._read_children(children, changed)

    async def _read_children(self, children: Sequence[Child], parents: list[Row]) -> Fetched:
        async def one(parent: Row) -> tuple[str, list[Any]]:
            got = []
            for child in children:
                assert child.call is not None
                async with self.sem:
                    got.append(await child.call(self.sr, parent))
            return str(parent["id"]), got

        answers = await self._gather(one(p) for p in parents)
        out: Fetched = {c.name: {} for c in children}
        for pid, got in answers:
            for child, body in zip(children, got, strict=True):
                out[child.name][pid] = body
        return out

    def _write_page_children(
        self,
        conn: Connection,
        res: Resource,
        fetched: Fetched,
        report: PassReport,
        *,
        now: datetime,
        full: bool,
    ) -> None:
        for child in page_children(res):
            for pid, body in fetched.get(child.name, {}).items():
                if body is None:
                    continue  # the parent is gone since it was listed: the feed or a sweep says so
                self._write_child(conn, child, {"id": pid}, body, report, now=now, full=full)

    def _write_child(
        self,
        conn: Connection,
        child: Child,
        parent: Row,
        body: Any,
        report: PassReport,
        *,
        now: datetime,
        full: bool,
    ) -> UpsertResult | None:
        """One parent's answer for ``child``: upsert its rows, then tombstone (or delete) the
        parent's stored rows it no longer lists. An answer the mirror cannot store waits in
        quarantine (under the child's name and the parent's id) and changes nothing (None)."""
        assert child.rows is not None
        pid = str(parent["id"])
        try:
            rows = child.rows(parent, body)
        except Invalid as exc:
            self._quarantine(conn, child.name, pid, str(exc), body, report, now)
            return None
        result = self.m.upsert(conn, child.table, rows, now=now)
        changes = change_records(child.name, result, full=full) if child.outbox else []
        if child.parent_column:
            keep = {key_of(child.table, r) for r in rows}
            live = cq.live_keys_of(conn, self.m.tenant, child.table, child.parent_column, [pid])
            stale = [k for _, k in live if k not in keep]
            if child.stale == "delete":
                cq.delete_keys(conn, self.m.tenant, child.table, stale)
            elif stale:
                keep_raw = child.cascade.keep_raw if child.cascade else ("id",)
                gone = self.m.tombstone_keys(conn, child.table, stale, at=now, keep_raw=keep_raw)
                if child.outbox:
                    changes += [
                        Change(child.name, record_key(child.name, g), "deleted") for g in gone
                    ]
        self.m.emit(conn, changes, run_id=self.run_id, now=now)
        return result

    # ---- follow-ups -----------------------------------------------------------------------------
    async def _followups(self, res: Resource, report: PassReport, *, full: bool) -> None:
        """The resource's follow-ups, each after what it needs."""
        for f in followup_order(res):
            await self._followup(res, f, report, full=full)

    async def _followup(
        self, res: Resource, f: FollowUp, report: PassReport, *, full: bool
    ) -> None:
        if f.method is not None:
            await getattr(self, f.method)(report, full=full)
            return
        child = next(c for c in res.children if c.name == f.name and c.fetch == "followup")
        await self._read_flagged_child(res, child, report, full=full)

    async def _read_flagged_child(
        self, res: Resource, child: Child, report: PassReport, *, full: bool
    ) -> None:
        """The generic per-record read: one call per parent flagged ``child.flag`` that
        satisfies ``child.only`` (the others only clear their flag, in one statement)."""
        assert child.call is not None
        call = child.call
        only = child.only(self.settings) if child.only is not None else None
        if only is not None:
            with self.m.begin() as conn:
                fq.clear_flag_unless(conn, self.m.tenant, res.table, child.flag, only)

        async def one(parent: Row) -> Any:
            async with self.sem:
                return await call(self.sr, parent)

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            for parent, body in zip(batch, got, strict=True):
                if body is not None:
                    self._write_child(conn, child, parent, body, report, now=now, full=full)

        await self._followup_calls(res.table, child.flag, (), one, write, only=only)
