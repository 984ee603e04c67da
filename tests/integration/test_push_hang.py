"""An HRIS that accepts the connection and never answers, under ``syncd run`` (a real
subprocess; SQLite and PostgreSQL): the BambooHR sandbox hangs every create (fault kind
``hang``, docs/hris-sandbox.md) while hires are queued.

- each attempt gives up within the sink's ``timeout`` (1 s here): the sandbox sees every hung
  create's client disconnect after about that long, never after the 30 s default;
- the delivery is scheduled for a later pass (``pending`` with ``next_attempt_at``, the reason
  "no answer (ReadTimeout)"), not dead-lettered, not lost, and nothing is created meanwhile;
- mirroring goes on: complete pull passes keep being recorded ``ok`` and /readyz answers 200;
- once the HRIS answers again (the hang released), every hire is one employee, delivered once.

Shaped like test_push_outage.py (a stopped HRIS); the same fixtures and short retry schedule,
every wait polls with a deadline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from syncd.hris_sandbox.runner import serve_in_thread
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer
from syncd.sandbox.runner import serve_in_thread as serve_tenant
from tests.conftest import sandbox_options
from tests.integration.daemon_env import daemon_env, runs, start_daemon, wait_for
from tests.integration.hris.conftest import bamboo_options
from tests.integration.hris.conftest import control as hris_control
from tests.integration.push_env import push_env, write_config
from tests.integration.test_mirror_sync import TENANT
from tests.integration.test_push_hris import assert_one_employee_per_hire, hris_sink, new_employees
from tests.integration.test_push_outage import (
    RESOURCES,
    _cursor_made,
    _deliveries,
    _passes_since,
    hire_and_wait_retried_twice,
)

HIRES = 3
TIMEOUT = 1.0  # the sink's HTTP timeout, seconds per request
MAX_ATTEMPTS = 40


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_tenant(sandbox_options(candidates=30, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def test_an_hris_that_never_answers_times_out_and_retries_without_stopping_mirroring(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    hris = serve_in_thread(bamboo_options(limits=False))
    assert hris is not None
    sink = hris_sink(
        hris,
        tmp_path,
        timeout=TIMEOUT,
        retry_initial_seconds=0.5,
        retry_max_seconds=2,
        max_attempts=MAX_ATTEMPTS,
    )
    env = daemon_env({**push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))})
    d = start_daemon(env, tmp_path)
    try:
        wait_for("a first pass of every resource", lambda: _passes_since(db_url, 0), log=d.output)
        wait_for("the sink's cursor", lambda: _cursor_made(db), log=d.output)

        # The HRIS hangs on every create (lookups still answer), then people are hired.
        hang = [{"kind": "hang", "count": 10_000, "op": "create"}]
        hris_control(hris.base_url, "faults", {"queue": hang})
        apps = hire_and_wait_retried_twice(tenant, db, d, HIRES, "while the HRIS hangs")
        stats = hris_control(hris.base_url, "stats")
        # Every create reached the HRIS and hung; each client gave up after its own timeout.
        assert stats["faults"]["hang"] >= 2 * HIRES, stats
        gave_up = stats["abandoned"]
        assert len(gave_up) >= 2 * HIRES, stats
        # The upper bound leaves room for a loaded machine; a client without a timeout would
        # never have given up at all.
        assert all(TIMEOUT * 0.9 <= s < TIMEOUT + 5.0 for s in gave_up), gave_up
        assert new_employees(hris) == []  # nothing was written by a hung request

        # Mirroring goes on while every push attempt hangs: complete pull passes after this.
        since = len(runs(db_url, TENANT))
        wait_for(
            "pull passes of every resource while the HRIS hangs",
            lambda: _passes_since(db_url, since),
            timeout=30,
            log=d.output,
        )
        assert {r for r, _, s in runs(db_url, TENANT)[since:] if s == "ok"} >= set(RESOURCES)
        wait_for("/readyz 200 while the HRIS hangs", lambda: d.get("/readyz").status_code == 200)

        # Waiting for a retry (or being tried right now), never a dead letter, never delivered.
        # A read may find every hire in flight (a pass claims its batch at once): read until
        # one waits for its next attempt.
        def one_waiting() -> list[dict[str, Any]]:
            rows = _deliveries(db)
            return rows if any(r["state"] == "pending" for r in rows) else []

        during = wait_for("a hire waiting for its next attempt", one_waiting, log=d.output)
        assert {r["state"] for r in during} <= {"pending", "in_flight"}, during
        assert all(r["attempts"] < MAX_ATTEMPTS for r in during), during
        waiting = [r for r in during if r["state"] == "pending"]
        assert waiting and all(r["next_attempt_at"] is not None for r in waiting), during
        assert all("no answer (ReadTimeout)" in (r["reason"] or "") for r in waiting), during

        # The HRIS answers again (the hung requests are let go with a 504, nothing written).
        hris_control(hris.base_url, "faults", {})

        def delivered() -> bool:
            rows = _deliveries(db)
            return len(rows) == HIRES and {r["state"] for r in rows} == {"delivered"}

        wait_for("every hire delivered once the HRIS answers", delivered, timeout=30, log=d.output)
        assert_one_employee_per_hire(tenant, hris, apps, db)
        assert hris_control(hris.base_url, "stats")["stats"]["op:create"] >= HIRES
        assert d.metric("syncd_dead_letters", sink="hr") == 0.0
        assert d.metric("syncd_deliveries_total", sink="hr", outcome="retrying") >= 2 * HIRES
        assert "Traceback" not in d.output()
    finally:
        d.stop()
        hris.stop()
