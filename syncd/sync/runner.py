"""One sync job end to end: settings → mirror engine + SmartRecruiters client → passes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncd.config import Settings
from syncd.mirror.db import make_engine, require_schema
from syncd.mirror.store import Mirror
from syncd.sync.catalogue import BY_NAME, CATALOGUE
from syncd.sync.engine import Engine, PassesFailed, PassReport, ProgressFn


async def check_credential(sr: Any, resources: Sequence[str] | None) -> None:
    """One cheap read of the first resource's list before anything is written: a refused
    credential (or a missing scope) raises here, so it leaves no run and no checkpoint behind.
    Costs one API call per job."""
    first = BY_NAME[resources[0]] if resources else CATALOGUE[0]
    await sr.request("GET", first.path, params={"limit": 1})


async def run_job(
    settings: Settings,
    mode: str,
    resources: Sequence[str] | None = None,
    since: datetime | None = None,
    *,
    progress: ProgressFn | None = None,
) -> tuple[list[PassReport], int]:
    """Run the passes; returns the reports and the API calls spent. Raises SchemaError before any
    call when the mirror is not migrated, the client's errors (auth, config) and the mirror's as
    they come, and ``PassesFailed`` (with every report and the calls spent) when some resources'
    passes failed while the others ran."""
    from syncd.ats import SmartRecruitersClient

    db = make_engine(settings.database_url)
    try:
        require_schema(db)
        mirror = Mirror(db, settings.tenant)
        async with SmartRecruitersClient(settings.smartrecruiters) as sr:
            await check_credential(sr, resources)
            engine = Engine(
                mirror,
                sr,
                settings.sync,
                progress=progress,
                concurrency=settings.smartrecruiters.max_concurrency,
            )
            try:
                reports = await engine.run(mode, resources, since)
            except PassesFailed as exc:
                exc.calls = sr.calls
                raise
            return reports, sr.calls
    finally:
        db.dispose()
