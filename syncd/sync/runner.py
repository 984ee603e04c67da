"""One sync job end to end: settings → mirror engine + SmartRecruiters client → passes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syncd.config import Settings
from syncd.mirror.db import make_engine, require_schema
from syncd.mirror.store import Mirror
from syncd.sync.engine import Engine, PassReport, ProgressFn


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
