"""Offers that may have changed: offers have no updatedAfter, so the audit feed names the ones to
re-read (or, without it, every offer that is not final is re-read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from syncd.ats import absent_ok
from syncd.mirror import followup_queries as fq
from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid, Row
from syncd.mirror.store import utcnow
from syncd.sync.base import EngineBase
from syncd.sync.catalogue import flags_of
from syncd.sync.changes import change_records
from syncd.sync.passes import PassReport

FINAL_OFFER = frozenset({"ACCEPTED", "NOT_ACCEPTED", "ABANDONED", "NOT_APPROVED"})
NON_FINAL_OFFER = [
    "CREATED",
    "PENDING_APPROVAL",
    "APPROVED",
    "PENDING_ACCEPTANCE",
]


class OffersMixin(EngineBase):
    def _write_offers(
        self,
        conn: Connection,
        rows: list[Row],
        report: PassReport,
        *,
        now: datetime,
        full: bool = False,
    ) -> None:
        # A new or changed offer owes a read of its latest approval (approvals.py).
        result = self.m.upsert(
            conn, s.offers, rows, now=now, touch=full, on_change=flags_of(s.offers)
        )
        report.counts.add(result)
        self.m.set_columns(conn, s.offers, [{"id": r["id"], "recheck": False} for r in rows])
        self.m.emit(conn, change_records("offers", result, full=full), run_id=self.run_id, now=now)

    async def _recheck_offers(self, report: PassReport, *, full: bool) -> None:
        """Offers have no updatedAfter. The audit feed names the offers that changed (OFFER_*
        events set ``recheck``); one call per application re-reads them. Without the audit
        resource in the pass, every offer that is not final is re-read through the list."""
        if not self.audit_enabled and not full:
            async for page in self.sr.offers.pages(
                status=NON_FINAL_OFFER, limit=self.settings.page_size
            ):
                now = utcnow()
                rows, bad = _offer_rows(page.items)
                with self.m.begin() as conn:
                    for key, reason, raw in bad:
                        self._quarantine(conn, "offers", key, reason, raw, report, now)
                    self._write_offers(conn, rows, report, now=now)
            return
        with self.m.begin() as conn:
            apps = fq.applications_with_recheck(conn, self.m.tenant)

        async def one(cid: str, jid: str) -> list[Any]:
            async with self.sem:
                return list(await absent_ok(self.sr.offers.for_application(cid, jid)) or [])

        for i in range(0, len(apps), 100):
            chunk = apps[i : i + 100]
            got = await self._gather([one(c, j) for c, j in chunk])
            now = utcnow()
            rows, bad = _offer_rows([item for items in got for item in items or []])
            with self.m.begin() as conn:
                for key, reason, raw in bad:
                    self._quarantine(conn, "offers", key, reason, raw, report, now)
                self._write_offers(conn, rows, report, now=now)
                fq.clear_rechecks(conn, self.m.tenant, chunk)
        with self.m.begin() as conn:  # rechecks for offers whose application is unknown
            fq.clear_rechecks(conn, self.m.tenant)


def _offer_rows(items: list[Any]) -> tuple[list[Row], list[tuple[None, str, Any]]]:
    """Offer rows, and the payloads that are not offers (to quarantine, with the reason)."""
    rows: list[Row] = []
    bad: list[tuple[None, str, Any]] = []
    for item in items:
        try:
            rows.append(rec.offer_row(item))
        except Invalid as exc:
            bad.append((None, str(exc), item))
    return rows, bad
