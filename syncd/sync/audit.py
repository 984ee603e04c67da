"""The audit feed: events are stored once, and each page's events are turned into what they mean
for the mirror (status history entries, application ids, detail and offer re-reads, deletions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from syncd.mirror import history_queries as hq
from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row, as_dict
from syncd.mirror.store import UpsertResult
from syncd.sync.deletions import DeletionsMixin
from syncd.sync.passes import PassReport

CANDIDATE_DELETED = ("CANDIDATE_DELETED", "CANDIDATE_DELETED_DUE_TO_MERGE")
# Events whose effect costs API calls: acted on only the first time they are seen.
CALLING_EVENTS = frozenset(
    {
        "ONBOARDING_STATUS_UPDATED",
        "APPLICATION_SOURCE_MODIFIED",
        "OFFER_CREATED",
        "OFFER_UPDATED",
        "OFFER_ACCEPTED",
        "OFFER_DECLINED",
    }
)


@dataclass
class AuditEffects:
    """What a page of audit events asks of the mirror, gathered before it is applied at once."""

    hist: list[Row] = field(default_factory=list)
    prev_fix: list[Row] = field(default_factory=list)
    app_ids: dict[tuple[str, str], Row] = field(default_factory=dict)
    details: set[tuple[str, str]] = field(default_factory=set)
    recheck: set[str] = field(default_factory=set)
    del_cands: list[str] = field(default_factory=list)
    del_jobs: list[str] = field(default_factory=list)
    at_of: dict[str, datetime] = field(default_factory=dict)


class AuditMixin(DeletionsMixin):
    def _write_audit(
        self, conn: Connection, rows: list[Row], report: PassReport, *, now: datetime, full: bool
    ) -> None:
        # Audit events never change: insert the new ones, leave the rest (no read, no compare).
        inserted = self.m.insert_new(conn, s.audit_events, rows, now=now)
        result = UpsertResult(inserted=inserted)
        report.counts.add(result)
        report.counts.unchanged += len(rows) - len(inserted)
        fx = AuditEffects()
        # Replaying the lag window's events is harmless: every effect below is idempotent, and
        # the ones that cost API calls (re-reads) only follow events seen for the first time.
        fresh = {r["id"] for r in result.inserted} | {n["id"] for _, n in result.updated}
        for r in rows:
            name = r["event_name"] or ""
            if (name in CALLING_EVENTS or name.startswith("OFFER_")) and r["id"] not in fresh:
                continue
            try:
                self._audit_effect(r, fx, now)
            except Invalid as exc:
                self._quarantine(conn, "audit", r["id"], str(exc), r["raw"], report, now)
        self._apply_audit(conn, report, fx, now)

    def _audit_effect(self, r: Row, fx: AuditEffects, now: datetime) -> None:
        """What one event means for the mirror, gathered into ``fx`` (applied per page)."""
        name, raw = r["event_name"], r["raw"]
        ctx = as_dict(raw.get("context"))
        cid, jid, eid = r["candidate_id"], r["job_id"], r["entity_id"]
        when = r["event_date"]
        try:
            ordinal = int(r["id"])
        except ValueError:
            ordinal = 0
        if name == "JOB_APPLICATION_CREATED" and cid and jid and when:
            fx.hist.append(_entry(cid, jid, eid, raw, ctx, ordinal))
            fx.app_ids[(cid, jid)] = {
                "candidate_id": cid,
                "job_id": jid,
                "application_id": eid,
                "created_on": when,
            }
        elif name == "JOB_APPLICATION_STATE_MODIFIED" and cid and jid and when:
            cur = as_dict(ctx.get("currentStatus"))
            prev = as_dict(ctx.get("previousStatus"))
            if cur.get("status"):
                fx.hist.append(_entry(cid, jid, eid, raw, cur, ordinal))
            if prev.get("status") and prev.get("subStatus") is not None:
                # The creation event has no sub-status; the next transition tells it.
                fx.prev_fix.append(
                    {
                        "k_c": cid,
                        "k_j": jid,
                        "k_s": prev["status"],
                        "k_o": ordinal,
                        "v": prev["subStatus"],
                    }
                )
        elif name in ("ONBOARDING_STATUS_UPDATED", "APPLICATION_SOURCE_MODIFIED") and cid and jid:
            fx.details.add((cid, jid))
        elif name and name.startswith("OFFER_") and eid:
            fx.recheck.add(eid)
        elif name in CANDIDATE_DELETED and eid:
            fx.del_cands.append(eid)
            fx.at_of[eid] = when or now
        elif name == "JOB_DELETED" and eid:
            fx.del_jobs.append(eid)
            fx.at_of[eid] = when or now

    def _apply_audit(
        self, conn: Connection, report: PassReport, fx: AuditEffects, now: datetime
    ) -> None:
        if fx.hist:
            # An entry is a fact (this status at this instant): a replayed event adds nothing.
            self.m.insert_new(conn, s.application_status_history, fx.hist, now=now, returning=False)
        hq.fill_previous_sub_status(conn, self.m.tenant, fx.prev_fix)
        # Only rows that exist are updated: during a backfill the audit feed runs before the
        # candidates and offers, so these tables are still empty (a new application takes its id
        # and creation date from the history in _fill_from_history).
        if fx.app_ids or fx.details:
            have = self.m.present(conn, s.applications, [*fx.app_ids, *fx.details])
            fx.app_ids = {k: v for k, v in fx.app_ids.items() if k in have}
            fx.details = {k for k in fx.details if k in have}
        if fx.app_ids:
            self.m.set_columns(conn, s.applications, list(fx.app_ids.values()))
        if fx.details:
            self.m.set_columns(
                conn,
                s.applications,
                [{"candidate_id": c, "job_id": j, "details_pending": True} for c, j in fx.details],
            )
        if fx.recheck:
            have_offers = self.m.present(conn, s.offers, [(o,) for o in fx.recheck])
            fx.recheck = {o for o in fx.recheck if (o,) in have_offers}
        if fx.recheck:
            self.m.set_columns(conn, s.offers, [{"id": o, "recheck": True} for o in fx.recheck])
        for cid in fx.del_cands:
            self._delete(conn, "candidates", [cid], at=fx.at_of[cid], report=report)
        for jid in fx.del_jobs:
            self._delete(conn, "jobs", [jid], at=fx.at_of[jid], report=report)


def _entry(cid: str, jid: str, eid: str | None, raw: Row, status: Row, ordinal: int) -> Row:
    """A status history entry from an event: its date, and the status (with sub-status) that
    ``status`` (the event's context, or its ``currentStatus``) names."""
    return rec.app_history_row(
        cid,
        jid,
        eid,
        {
            "changedOn": raw.get("eventDate"),
            "status": status.get("status"),
            "subStatus": status.get("subStatus"),
        },
        ordinal,
    )
