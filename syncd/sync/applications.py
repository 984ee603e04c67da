"""Applications: written from the candidate list, then the work they owe after the pass (status
histories the audit feed did not complete, details for the configured statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change, utcnow
from syncd.sync.base import EngineBase
from syncd.sync.changes import change_records
from syncd.sync.passes import PassReport


class ApplicationsMixin(EngineBase):
    def _write_candidates(
        self, conn: Connection, rows: list[Row], report: PassReport, *, now: datetime, full: bool
    ) -> None:
        c = report.counts
        result = self.m.upsert(conn, s.candidates, rows, now=now, touch=full)
        c.add(result)
        changes = change_records("candidates", result, full=full)
        apps: list[Row] = []
        listed: dict[str, set[str]] = {}
        for row in rows:
            cid = row["id"]
            listed[cid] = set()
            for a in rec.assignments(row["raw"]):
                try:
                    app = rec.assignment_row(cid, a)
                except Invalid as exc:
                    self.m.quarantine(
                        conn, "applications", cid, str(exc), a, run_id=self.run_id, now=now
                    )
                    c.quarantined += 1
                    continue
                apps.append(app)
                listed[cid].add(app["job_id"])
        ar = self.m.upsert(
            conn,
            s.applications,
            apps,
            now=now,
            merge_raw=True,
            touch=full,
            on_change={
                "history_pending": True,
                "details_pending": True,
                "interviews_pending": True,
            },
        )
        self._fill_from_history(conn, ar.inserted)
        changes += change_records("applications", ar, full=full)
        # A listed candidate shows all its applications: one missing from the list is gone.
        if listed:
            a_t = s.applications
            live = conn.execute(
                select(a_t.c.candidate_id, a_t.c.job_id).where(
                    a_t.c.tenant == self.m.tenant,
                    a_t.c.deleted_at.is_(None),
                    a_t.c.candidate_id.in_(list(listed)),
                )
            ).all()
            for cid, jid in live:
                if jid not in listed[cid]:
                    self.m.tombstone(
                        conn,
                        a_t,
                        and_(a_t.c.candidate_id == cid, a_t.c.job_id == jid),
                        at=now,
                        keep_raw=(),
                    )
                    changes.append(Change("applications", f"{cid}/{jid}", "deleted"))
        self.m.emit(conn, changes, run_id=self.run_id, now=now)

    def _fill_from_history(self, conn: Connection, inserted: list[Row]) -> None:
        """A new application row takes its id and creation date from history rows the audit feed
        already wrote."""
        if not inserted:
            return
        h = s.application_status_history
        keys = [(r["candidate_id"], r["job_id"]) for r in inserted]
        found = conn.execute(
            select(
                h.c.candidate_id, h.c.job_id, func.min(h.c.changed_on), func.max(h.c.application_id)
            )
            .where(h.c.tenant == self.m.tenant, h.c.candidate_id.in_({k[0] for k in keys}))
            .group_by(h.c.candidate_id, h.c.job_id)
        ).all()
        wanted = set(keys)
        found = [f for f in found if (f[0], f[1]) in wanted]
        self.m.set_columns(
            conn,
            s.applications,
            [
                {"candidate_id": cid, "job_id": jid, "created_on": first, "application_id": aid}
                for cid, jid, first, aid in found
            ],
        )

    def _flagged_batch(self, conn: Connection, flag: Any, after: str, *cols: Any) -> list[Row]:
        """Up to 500 live applications with ``flag`` set, in primary-key order from candidate
        ``after`` on (the caller clears the flags of a batch before asking for the next)."""
        a = s.applications
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(a.c.candidate_id, a.c.job_id, *cols)
                .where(
                    a.c.tenant == self.m.tenant,
                    flag.is_(True),
                    a.c.deleted_at.is_(None),
                    a.c.candidate_id >= after,
                )
                .order_by(a.c.candidate_id, a.c.job_id)
                .limit(500)
            )
        ]

    async def _resolve_histories(self, report: PassReport, *, full: bool) -> None:
        """Applications whose status changed: their history is complete when its newest entry
        shows the listed status (the audit feed brought it); otherwise one call each."""
        a, h = s.applications, s.application_status_history
        # Walks the primary key from where the last batch ended (its flags are cleared): a
        # plain LIMIT rescanned the whole table for every batch (quadratic at 100k candidates).
        after = ""
        while True:
            with self.m.begin() as conn:
                pending = self._flagged_batch(
                    conn,
                    a.c.history_pending,
                    after,
                    a.c.application_id,
                    a.c.status,
                    a.c.sub_status,
                )
                if not pending:
                    return
                after = pending[-1]["candidate_id"]
                keys = [(p["candidate_id"], p["job_id"]) for p in pending]
                wanted = set(keys)
                latest: dict[tuple[str, str], Row] = {}
                for r in conn.execute(
                    # Not raw: decoding every entry's JSON was most of this loop's time.
                    select(
                        h.c.candidate_id,
                        h.c.job_id,
                        h.c.changed_on,
                        h.c.status,
                        h.c.sub_status,
                        h.c.ordinal,
                    ).where(
                        h.c.tenant == self.m.tenant,
                        h.c.deleted_at.is_(None),
                        h.c.candidate_id.in_({k[0] for k in keys}),
                    )
                ):
                    m = dict(r._mapping)
                    k = (m["candidate_id"], m["job_id"])
                    if k not in wanted:
                        continue
                    if k not in latest or (m["changed_on"], m["ordinal"]) > (
                        latest[k]["changed_on"],
                        latest[k]["ordinal"],
                    ):
                        latest[k] = m
            complete, fetch = [], []
            for p in pending:
                last = latest.get((p["candidate_id"], p["job_id"]))
                if (
                    last is not None
                    and last["status"] == p["status"]
                    and (last["sub_status"] in (None, p["sub_status"]))
                ):
                    complete.append((p, last))
                else:
                    fetch.append(p)
            fetched = await self._gather([self._history_of(p) for p in fetch])
            now = utcnow()
            with self.m.begin() as conn:
                subs = [
                    {
                        "candidate_id": p["candidate_id"],
                        "job_id": p["job_id"],
                        "changed_on": last["changed_on"],
                        "status": last["status"],
                        "sub_status": p["sub_status"],
                    }
                    for p, last in complete
                    if last["sub_status"] is None and p["sub_status"] is not None
                ]
                self.m.set_columns(conn, h, subs)  # one executemany, not one UPDATE each
                for p, items in zip(fetch, fetched, strict=True):
                    if items is None:
                        continue
                    self._replace_history(conn, p, items, now=now, report=report)
                self.m.set_columns(
                    conn,
                    s.applications,
                    [
                        {
                            "candidate_id": p["candidate_id"],
                            "job_id": p["job_id"],
                            "history_pending": False,
                        }
                        for p in pending
                    ],
                )

    async def _history_of(self, p: Row) -> list[Any] | None:
        from syncd.ats import NotFoundError  # the engine wires ats; imported lazily for tests

        try:
            async with self.sem:
                return list(
                    await self.sr.applications.status_history(p["candidate_id"], p["job_id"])
                )
        except NotFoundError:
            return None  # gone since it was listed: the audit feed or a sweep will say so

    def _replace_history(
        self, conn: Connection, p: Row, items: list[Any], *, now: datetime, report: PassReport
    ) -> None:
        h = s.application_status_history
        rows = []
        for i, item in enumerate(items):
            try:
                rows.append(
                    rec.app_history_row(
                        p["candidate_id"],
                        p["job_id"],
                        p["application_id"],
                        rec._obj(item, "history"),
                        i,
                    )
                )
            except Invalid as exc:
                self.m.quarantine(
                    conn,
                    "application_status_history",
                    f"{p['candidate_id']}/{p['job_id']}",
                    str(exc),
                    item,
                    run_id=self.run_id,
                    now=now,
                )
                report.counts.quarantined += 1
        stored = {
            (r.changed_on, r.status): r.ordinal
            for r in conn.execute(
                select(h.c.changed_on, h.c.status, h.c.ordinal).where(
                    h.c.tenant == self.m.tenant,
                    h.c.candidate_id == p["candidate_id"],
                    h.c.job_id == p["job_id"],
                )
            )
        }
        for r in rows:  # keep audit ordinals where we have them: they order same-stamp entries
            r["ordinal"] = stored.get((r["changed_on"], r["status"]), r["ordinal"])
        self.m.upsert(conn, h, rows, now=now)
        keep = {(r["changed_on"], r["status"]) for r in rows}
        extra = [k for k in stored if k not in keep]
        for changed_on, status in extra:
            conn.execute(
                delete(h).where(
                    h.c.tenant == self.m.tenant,
                    h.c.candidate_id == p["candidate_id"],
                    h.c.job_id == p["job_id"],
                    h.c.changed_on == changed_on,
                    h.c.status == status,
                )
            )

    async def _resolve_details(self, report: PassReport, *, full: bool) -> None:
        """``GET /candidates/{id}/jobs/{jobId}`` (source, onboarding status, start date) for
        changed applications in the statuses configured; the others only clear the flag."""
        a = s.applications
        after = ""  # as in _resolve_histories: by primary key, from the last batch on
        while True:
            with self.m.begin() as conn:
                pending = self._flagged_batch(conn, a.c.details_pending, after, a.c.status)
                want = [p for p in pending if p["status"] in self.details_statuses]
                if want:  # raw only for the applications that get a call
                    raws = self.m.existing(
                        conn, a, [(p["candidate_id"], p["job_id"]) for p in want]
                    )
                    for p in want:
                        p["raw"] = raws[(p["candidate_id"], p["job_id"])]["raw"]
            if not pending:
                return
            after = pending[-1]["candidate_id"]
            got = await self._gather([self._details_of(p) for p in want])
            now = utcnow()
            with self.m.begin() as conn:
                changes: list[Change] = []
                upd: list[Row] = []
                done: set[tuple[str, str]] = set()
                for p, body in zip(want, got, strict=True):
                    if body is None:
                        continue
                    try:
                        fields = rec.application_detail_fields(body)
                    except Invalid as exc:
                        key = f"{p['candidate_id']}/{p['job_id']}"
                        self.m.quarantine(
                            conn, "applications", key, str(exc), body, run_id=self.run_id, now=now
                        )
                        report.counts.quarantined += 1
                        continue
                    fields = {
                        k: v
                        for k, v in fields.items()
                        if v is not None or k in ("onboarding_status", "starts_on")
                    }
                    raw = {**(p["raw"] or {}), "details": body}
                    h = rec.content_hash(raw)
                    old_hash = rec.content_hash(p["raw"] or {})
                    fields.pop("status", None)
                    fields.pop("sub_status", None)
                    done.add((p["candidate_id"], p["job_id"]))
                    upd.append(
                        {
                            "candidate_id": p["candidate_id"],
                            "job_id": p["job_id"],
                            **fields,
                            "raw": raw,
                            "content_hash": h,
                            "details_pending": False,
                        }
                    )
                    if h != old_hash:
                        changes.append(
                            Change(
                                "applications",
                                f"{p['candidate_id']}/{p['job_id']}",
                                "updated",
                                {"details": True},
                            )
                        )
                # One executemany per column set instead of one UPDATE per application.
                self.m.set_columns(
                    conn,
                    a,
                    upd
                    + [
                        {
                            "candidate_id": p["candidate_id"],
                            "job_id": p["job_id"],
                            "details_pending": False,
                        }
                        for p in pending
                        if (p["candidate_id"], p["job_id"]) not in done
                    ],
                )
                self.m.emit(conn, changes, run_id=self.run_id, now=now)

    async def _details_of(self, p: Row) -> dict[str, Any] | None:
        from syncd.ats import NotFoundError

        try:
            async with self.sem:
                body = await self.sr.applications.get(p["candidate_id"], p["job_id"])
                return dict(body)
        except NotFoundError:
            return None
