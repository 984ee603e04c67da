"""One sync job end to end: settings → mirror engine + SmartRecruiters client → passes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncd.config import Settings
from syncd.mirror.db import make_engine, require_schema
from syncd.mirror.store import Mirror
from syncd.sync.catalogue import BY_NAME, CATALOGUE
from syncd.sync.engine import Engine, PassReport, ProgressFn


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
    call when the mirror is not migrated, and the client's errors (auth, config) as they come."""
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
            reports = await engine.run(mode, resources, since)
            return reports, sr.calls
    finally:
        db.dispose()
