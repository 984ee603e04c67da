"""Applications: written from the candidate list, then the work they owe after the pass (status
histories the audit feed did not complete, details for the configured statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change
from syncd.sync.changes import change_records
from syncd.sync.followups import FollowUpsMixin, same_application
from syncd.sync.passes import PassReport


class ApplicationsMixin(FollowUpsMixin):
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
                    self._quarantine(conn, "applications", cid, str(exc), a, report, now)
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

    async def _resolve_histories(self, report: PassReport, *, full: bool) -> None:
        """Applications whose status changed: their history is complete when its newest entry
        shows the listed status (the audit feed brought it); otherwise one call each.

        The check runs in the database, two statements for all flagged applications (it was a
        Python loop over every application of a backfill); only the incomplete ones are left
        flagged, and get their call."""
        a, h = s.applications, s.application_status_history
        tenant = self.m.tenant
        h2 = h.alias("h2")
        newer = (
            select(h2.c.ordinal)
            .where(
                *same_application(h2, h),
                h2.c.deleted_at.is_(None),
                or_(
                    h2.c.changed_on > h.c.changed_on,
                    and_(h2.c.changed_on == h.c.changed_on, h2.c.ordinal > h.c.ordinal),
                ),
            )
            .exists()
        )
        with self.m.begin() as conn:
            # The creation event carries no sub-status: when the newest entry is still the one
            # the application is in, the listed sub-status completes it.
            listed = select(a.c.sub_status).where(*same_application(a, h)).scalar_subquery()
            pending_same = (
                select(a.c.job_id)
                .where(
                    *same_application(a, h),
                    a.c.history_pending.is_(True),
                    a.c.deleted_at.is_(None),
                    a.c.status == h.c.status,
                    a.c.sub_status.is_not(None),
                )
                .exists()
            )
            conn.execute(
                update(h)
                .where(
                    h.c.tenant == tenant,
                    h.c.sub_status.is_(None),
                    h.c.deleted_at.is_(None),
                    pending_same,
                    ~newer,
                )
                .values(sub_status=listed)
            )
            complete = (
                select(h.c.status)
                .where(
                    *same_application(h, a),
                    h.c.deleted_at.is_(None),
                    h.c.status == a.c.status,
                    or_(h.c.sub_status.is_(None), h.c.sub_status == a.c.sub_status),
                    ~newer,
                )
                .exists()
            )
            conn.execute(
                update(a)
                .where(
                    a.c.tenant == tenant,
                    a.c.history_pending.is_(True),
                    a.c.deleted_at.is_(None),
                    complete,
                )
                .values(history_pending=False)
            )

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            for p, items in zip(batch, got, strict=True):
                if items is not None:
                    self._replace_history(conn, p, items, now=now, report=report)

        await self._followup_calls(
            a, a.c.history_pending, (a.c.application_id,), self._history_of, write
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
                key = f"{p['candidate_id']}/{p['job_id']}"
                self._quarantine(
                    conn, "application_status_history", key, str(exc), item, report, now
                )
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
        changed applications in the statuses configured; the others only clear the flag (one
        statement for all of them)."""
        a = s.applications
        with self.m.begin() as conn:
            conn.execute(
                update(a)
                .where(
                    a.c.tenant == self.m.tenant,
                    a.c.details_pending.is_(True),
                    or_(
                        a.c.status.is_(None),
                        a.c.status.not_in(sorted(self.details_statuses)),
                        a.c.deleted_at.is_not(None),
                    ),
                )
                .values(details_pending=False)
            )

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            changes: list[Change] = []
            upd: list[Row] = []
            for p, body in zip(batch, got, strict=True):
                if body is None:
                    continue
                try:
                    fields = rec.application_detail_fields(body)
                except Invalid as exc:
                    key = f"{p['candidate_id']}/{p['job_id']}"
                    self._quarantine(conn, "applications", key, str(exc), body, report, now)
                    continue
                fields = {
                    k: v
                    for k, v in fields.items()
                    if v is not None or k in ("onboarding_status", "starts_on")
                }
                raw = {**(p["raw"] or {}), "details": body}
                h = rec.content_hash(raw)
                fields.pop("status", None)
                fields.pop("sub_status", None)
                upd.append(
                    {
                        "candidate_id": p["candidate_id"],
                        "job_id": p["job_id"],
                        **fields,
                        "raw": raw,
                        "content_hash": h,
                    }
                )
                if h != p["content_hash"]:
                    changes.append(
                        Change(
                            "applications",
                            f"{p['candidate_id']}/{p['job_id']}",
                            "updated",
                            {"details": True},
                        )
                    )
            # One executemany per column set instead of one UPDATE per application.
            self.m.set_columns(conn, a, upd)
            self.m.emit(conn, changes, run_id=self.run_id, now=now)

        await self._followup_calls(
            a, a.c.details_pending, (a.c.raw, a.c.content_hash), self._details_of, write
        )
