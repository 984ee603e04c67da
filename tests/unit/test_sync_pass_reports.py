"""``Engine.run`` hands each pass's report to ``on_pass_ended`` as that pass ends, before the next
resource's pass starts (the daemon counts it in /metrics then, not when the run is done), the
failed pass of a resource included; a job-wide failure still leaves the passes that ended before
it counted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine as DbEngine
from sqlalchemy.exc import OperationalError

from syncd.config import SyncSettings
from syncd.mirror.store import Mirror, utcnow
from syncd.sync.catalogue import CATALOGUE
from syncd.sync.engine import Engine
from syncd.sync.passes import PassesFailed, PassReport

NAMES = [r.name for r in CATALOGUE]


Started = list[tuple[str, list[str]]]


def _engine(db: DbEngine, fail: dict[str, Exception], seen: list[str]) -> tuple[Engine, Started]:
    """A real engine over a migrated mirror whose passes are stubbed: each records what
    ``seen`` (the resources reported so far) held when it started, then ends ok (or raises
    its ``fail``)."""
    engine = Engine(Mirror(db, "default"), object(), SyncSettings())
    started: Started = []

    async def fake_pass(res: Any, mode: str, since: Any = None) -> PassReport:
        started.append((res.name, list(seen)))
        if res.name in fail:
            raise fail[res.name]
        now = utcnow()
        return PassReport(res.name, mode, "ok", None, now, ended_at=now)

    engine._pass = fake_pass  # type: ignore[method-assign]
    return engine, started


def test_each_pass_is_reported_as_it_ends_before_the_next_starts(db: DbEngine) -> None:
    seen: list[str] = []
    engine, started = _engine(db, {NAMES[1]: RuntimeError("API down")}, seen)
    got: list[tuple[str, str]] = []

    def ended(report: PassReport) -> None:
        got.append((report.resource, report.status))
        seen.append(report.resource)

    with pytest.raises(PassesFailed) as failed:
        asyncio.run(engine.run("incremental", on_pass_ended=ended))
    # Every pass started after every earlier one had been reported, the failed one included.
    assert started == [(name, NAMES[:i]) for i, name in enumerate(NAMES)]
    assert got == [(n, "failed" if n == NAMES[1] else "ok") for n in NAMES]
    assert [(r.resource, r.status) for r in failed.value.reports] == got


def test_a_job_wide_failure_leaves_the_passes_before_it_reported(db: DbEngine) -> None:
    down = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    got: list[str] = []
    engine, started = _engine(db, {NAMES[2]: down}, got)
    with pytest.raises(OperationalError):
        asyncio.run(engine.run("incremental", on_pass_ended=lambda r: got.append(r.resource)))
    assert got == NAMES[:2]
    assert [n for n, _ in started] == NAMES[:3]  # the job ended at the database's failure
