"""What the engine's parts share: the mirror, the client, the settings, the run id and the
semaphore that bounds per-record calls. Each part of the engine is a mixin over this base."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from syncd.config import SyncSettings
from syncd.mirror.store import Mirror
from syncd.sync.passes import PassReport, ProgressFn


class EngineBase:
    def __init__(
        self,
        mirror: Mirror,
        client: Any,
        settings: SyncSettings,
        *,
        progress: ProgressFn | None = None,
        concurrency: int = 8,
    ) -> None:
        self.m = mirror
        self.sr = client
        self.settings = settings
        self.progress = progress
        self.sem = asyncio.Semaphore(concurrency)
        self.run_id = str(uuid.uuid4())
        self.lag = timedelta(seconds=settings.lag_window_seconds)
        self.details_statuses = frozenset(settings.application_details_statuses)
        self.audit_enabled = True
        self.backfill: Any = None  # the backfill this run belongs to (sync.backfills.Plan)
        # Resources whose walk restarted in this run after a refused page token: a second
        # refusal fails the resource instead of restarting again (syncd.sync.engine).
        self.tokens_restarted: set[str] = set()
        self.last_report: PassReport | None = None  # the pass run last (its report if it fails)

    async def _gather(self, coros: Iterable[Awaitable[Any]]) -> list[Any]:
        return list(await asyncio.gather(*coros))

    def _quarantine(
        self,
        conn: Connection,
        resource: str,
        key: str | None,
        reason: str,
        raw: Any,
        report: PassReport,
        now: datetime,
    ) -> None:
        """A record the mirror cannot store: to quarantine, counted in the pass's report."""
        self.m.quarantine(conn, resource, key, reason, raw, run_id=self.run_id, now=now)
        report.counts.quarantined += 1
