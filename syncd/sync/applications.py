"""Applications: written from the candidate list, then the work they owe after the pass (status
histories the audit feed did not complete, details for the configured statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from syncd.ats import absent_ok
from syncd.mirror import child_queries as cq
from syncd.mirror import followup_queries as fq
from syncd.mirror import history_queries as hq
from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import Change
from syncd.sync.catalogue import flags_of
from syncd.sync.changes import change_records
from syncd.sync.followups import FollowUpsMixin
from syncd.sync.passes import PassReport


class ApplicationsMixin(FollowUpsMixin):
    def _write_candidates(
        self, conn: Connection, rows: list[Row], report: PassReport, *, now: datetime, full: bool
    ) -> None:
        c = report.counts
        result = self.m.upsert(
            conn, s.candidates, rows, now=now, touch=full, on_change=flags_of(s.candidates)
        )
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
            on_change=flags_of(s.applications),
        )
        self._fill_from_history(conn, ar.inserted)
        changes += change_records("applications", ar, full=full)
        # A listed candidate shows all its applications: one missing from the list is gone.
        a_t = s.applications
        gone = [
            key
            for cid, key in cq.live_keys_of(conn, self.m.tenant, a_t, "candidate_id", listed)
            if key[1] not in listed[cid]
        ]
        for g in self.m.tombstone_keys(conn, a_t, gone, at=now, keep_raw=()):
            changes.append(Change("applications", f"{g['candidate_id']}/{g['job_id']}", "deleted"))
        self.m.emit(conn, changes, run_id=self.run_id, now=now)

    def _fill_from_history(self, conn: Connection, inserted: list[Row]) -> None:
        """A new application row takes its id and creation date from history rows the audit feed
        already wrote."""
        keys = [(r["candidate_id"], r["job_id"]) for r in inserted]
        found = hq.history_starts(conn, self.m.tenant, keys)
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
        a = s.applications
        with self.m.begin() as conn:
            fq.complete_histories(conn, self.m.tenant)

        def write(conn: Connection, batch: list[Row], got: list[Any], now: datetime) -> None:
            for p, items in zip(batch, got, strict=True):
                if items is not None:
                    self._replace_history(conn, p, items, now=now, report=report)

        await self._followup_calls(
            a, "history_pending", ("application_id",), self._history_of, write
        )

    async def _history_of(self, p: Row) -> list[Any] | None:
        """The application's status history; None when it is gone since it was listed (the
        audit feed or a sweep will say so)."""
        async with self.sem:
            got = await absent_ok(
                self.sr.applications.status_history(p["candidate_id"], p["job_id"])
            )
        return list(got) if got is not None else None

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
        stored = hq.stored_history(conn, self.m.tenant, p["candidate_id"], p["job_id"])
        for r in rows:  # keep audit ordinals where we have them: they order same-stamp entries
            r["ordinal"] = stored.get((r["changed_on"], r["status"]), r["ordinal"])
        self.m.upsert(conn, h, rows, now=now)
        keep = {(r["changed_on"], r["status"]) for r in rows}
        extra = [k for k in stored if k not in keep]
        hq.delete_history_entries(conn, self.m.tenant, p["candidate_id"], p["job_id"], extra)

    async def _resolve_details(self, report: PassReport, *, full: bool) -> None:
        """``GET /candidates/{id}/jobs/{jobId}`` (source, onboarding status, start date) for
        changed applications in the statuses configured; the others only clear the flag (one
        statement for all of them)."""
        a = s.applications
        with self.m.begin() as conn:
            fq.clear_details_outside(conn, self.m.tenant, sorted(self.details_statuses))

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
            a, "details_pending", ("raw", "content_hash"), self._details_of, write
        )
