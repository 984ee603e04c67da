"""Records refreshed by id (``syncd refresh RESOURCE ID...``; webhooks and operators): each
resource's declared get-by-id reads them now, and they are written through the same path as a
pass: mapped and hash-compared upserts, outbox change records, the children read with a page,
quarantine of an answer the mirror cannot store, then the resource's follow-ups (which serve
every row flagged, these first among them). The run is recorded in ``sync_runs`` (mode
``refresh``) with its API calls.

An id the API answers 404 for is reported absent. When the 404 carries the record's own code
(``CANDIDATE_NOT_FOUND``, ``JOB_NOT_FOUND``: the declared ``gone_codes``) and the resource's
records are deleted by sweeps, the delete policy applies to it, as a sweep would (tombstone,
personal data cleared, dependent rows, a ``deleted`` change). Any other error stops the refresh
and is raised (nothing of the failing read is written).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from sqlalchemy import Connection

from syncd.ats import absent_ok
from syncd.mirror import records
from syncd.mirror.store import key_columns, utcnow
from syncd.sync.catalogue import Child, GetById, Resource, flags_of, refreshable
from syncd.sync.children import page_children
from syncd.sync.engine import Engine
from syncd.sync.passes import PassReport

log = structlog.get_logger("syncd.sync")


@dataclass
class RefreshReport:
    """``report``: the counts as a pass has them; ``absent``: ids the API answered 404 for;
    ``deleted``: those of them the delete policy tombstoned; ``not_mirrored``: ids of children
    read through a parent row the mirror does not have (refresh the parent first)."""

    report: PassReport
    absent: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_mirrored: list[str] = field(default_factory=list)


class Refresher(Engine):
    also: Callable[[Connection], None] | None = None

    async def refresh(
        self,
        name: str,
        ids: Sequence[str],
        also: Callable[[Connection], None] | None = None,
    ) -> RefreshReport:
        """Read ``ids`` of ``name`` (a resource or child with a get-by-id) and write them.
        ``also(conn)`` runs inside the transaction that writes the records (and flags their
        follow-ups): the webhook inbox marks its callbacks done there, so a crash before that
        commit leaves them to drain again. Raises ValueError for a name without a get-by-id or
        an id of the wrong form (before any call), and the client's errors. Logs inside it
        carry ``resource`` and ``run_id``."""
        self.also = also
        with structlog.contextvars.bound_contextvars(resource=name, run_id=self.run_id):
            return await self._refresh(name, ids)

    def _also(self, conn: Connection) -> None:
        if self.also is not None:
            self.also(conn)

    async def _refresh(self, name: str, ids: Sequence[str]) -> RefreshReport:
        found = refreshable()
        if name not in found:
            raise ValueError(f"unknown resource {name!r}; choose from {', '.join(found)}")
        res, child, get = found[name]
        for i in ids:
            problem = get.check_id(i)
            if problem:
                raise ValueError(problem)
        wanted = list(dict.fromkeys(ids))
        calls0 = self.sr.calls
        started = utcnow()
        report = PassReport(name, "refresh", "running", None, started)
        out = RefreshReport(report)
        run_row = self.m.start_run(self.run_id, name, "refresh", None)
        try:
            if child is not None and get.call is None:
                await self._refresh_flagged(res, child, wanted, out)
            elif child is not None and child.fetch == "parent":
                await self._refresh_embedded(res, child, get, wanted, out)
            else:
                await self._refresh_records(res, child, get, wanted, out)
            report.status = "ok"
        except asyncio.CancelledError:
            report.status = "interrupted"  # SIGTERM, or a daemon that lost its lead
            raise
        except Exception as exc:
            report.status = "failed"
            report.error = f"{type(exc).__name__}: {exc}"
            report.counts.errors += 1
            raise
        finally:
            report.ended_at = utcnow()
            report.counts.api_calls = self.sr.calls - calls0
            counts = asdict(report.counts)
            self.m.finish_run(run_row, status=report.status, error=report.error, **counts)
            log.info(
                "refresh_ended",
                resource=name,
                absent=len(out.absent),
                not_mirrored=len(out.not_mirrored),
                **counts,
            )
        return out

    async def _read(self, get: GetById, idents: list[str]) -> list[Any]:
        call = get.call
        assert call is not None

        async def one(ident: str) -> Any:
            async with self.sem:
                return await absent_ok(call(self.sr, ident), codes=get.gone_codes or None)

        return list(await asyncio.gather(*(one(i) for i in idents)))

    async def _refresh_records(
        self,
        res: Resource,
        child: Child | None,
        get: GetById,
        wanted: list[str],
        out: RefreshReport,
    ) -> None:
        """Records with their own read: a resource's (then its follow-ups), or a child's
        (written per parent, as a pass writes it)."""
        report = out.report
        bodies = await self._read(get, wanted)
        here = [(i, b) for i, b in zip(wanted, bodies, strict=True) if b is not None]
        out.absent = [i for i, b in zip(wanted, bodies, strict=True) if b is None]
        report.counts.fetched = len(here)
        now = utcnow()
        if child is not None:
            with self.m.begin() as conn:
                for ident, body in here:
                    result = self._write_child(
                        conn, child, {"id": ident}, body, report, now=now, full=False
                    )
                    if result is not None:
                        report.counts.add(result)
                self._also(conn)
            return
        items = [get.as_listed(b) if get.as_listed else b for _, b in here]
        if page_children(res):
            prepared = await self._prepare_children(res, items)
        else:
            prepared = self._map(res, items)
        gone = out.absent if get.gone_codes and res.sweep_deletes else []
        with self.m.begin() as conn:
            self._write(conn, res, prepared, report, now=now, full=False)
            if gone:
                self._delete(conn, res.name, gone, at=now, report=report)
            self._also(conn)
        out.deleted = list(gone)
        await self._followups(res, report, full=False)

    async def _refresh_embedded(
        self, res: Resource, child: Child, get: GetById, wanted: list[str], out: RefreshReport
    ) -> None:
        """Children embedded in their parent (applications in their candidate): the parent is
        read and written as a pass writes it (an application its candidate no longer lists is
        tombstoned), the named children are flagged for every read they declare (details,
        history, interviews), and the parent's follow-ups make those reads. An id whose parent
        is gone, or whose parent does not list it, is absent."""
        report = out.report
        parents = list(dict.fromkeys(i.split("/")[0] for i in wanted))
        bodies = dict(zip(parents, await self._read(get, parents), strict=True))
        listed = {
            pid: {str(k) for k in keys_of_embedded(body)} if body is not None else set()
            for pid, body in bodies.items()
        }
        here = [i for i in wanted if i.split("/", 1)[1] in listed[i.split("/")[0]]]
        out.absent = [i for i in wanted if i not in here]
        items = [get.as_listed(b) if get.as_listed else b for b in bodies.values() if b]
        now = utcnow()
        key_names = [c.name for c in key_columns(child.table)]
        flags = flags_of(child.table) or {}
        with self.m.begin() as conn:
            self._write(conn, res, self._map(res, items), report, now=now, full=False)
            self.m.set_columns(
                conn,
                child.table,
                [{**dict(zip(key_names, i.split("/"), strict=True)), **flags} for i in here],
            )
            self._also(conn)
        report.counts.fetched = len(here)
        await self._followups(res, report, full=False)

    async def _refresh_flagged(
        self, res: Resource, child: Child, wanted: list[str], out: RefreshReport
    ) -> None:
        """Children read by a code follow-up (histories, interviews, approvals): their flag is
        set on the live parent rows named by ``wanted`` (keys of the flag's table), and the
        parent resource's follow-ups make the reads. An id the mirror has no live row for is
        reported in ``not_mirrored`` (refresh its parent first)."""
        table = child.flag_on if child.flag_on is not None else res.table
        keys = [tuple(i.split("/")) for i in wanted]
        key_names = [c.name for c in key_columns(table)]
        with self.m.begin() as conn:
            stored = self.m.existing(conn, table, keys)
            live = [k for k in keys if k in stored and stored[k]["deleted_at"] is None]
            self.m.set_columns(
                conn,
                table,
                [{**dict(zip(key_names, k, strict=True)), child.flag: True} for k in live],
            )
            self._also(conn)
        out.not_mirrored = ["/".join(k) for k in keys if k not in live]
        out.report.counts.fetched = len(live)
        await self._followups(res, out.report, full=False)


def keys_of_embedded(body: Any) -> list[str]:
    """The job ids of a candidate's applications, as its record lists them."""
    out: list[str] = []
    for a in records.assignments(body if isinstance(body, dict) else {}):
        job = a.get("job")
        if isinstance(job, dict) and job.get("id"):
            out.append(str(job["id"]))
    return out


async def refresh_records(settings: Any, name: str, ids: Sequence[str]) -> RefreshReport:
    """``Refresher.refresh`` with the settings' mirror and client. Raises SchemaError before any
    call when the mirror is not migrated, ValueError for a bad name or id, and the client's
    errors."""
    from syncd.ats import SmartRecruitersClient
    from syncd.mirror.db import make_engine, require_schema
    from syncd.mirror.store import Mirror

    db = make_engine(settings.database_url)
    try:
        require_schema(db)
        async with SmartRecruitersClient(settings.smartrecruiters) as sr:
            engine = Refresher(
                Mirror(db, settings.tenant),
                sr,
                settings.sync,
                concurrency=settings.smartrecruiters.max_concurrency,
            )
            return await engine.refresh(name, ids)
    finally:
        db.dispose()
