"""An HRIS outage under ``syncd run`` (a real subprocess; SQLite and PostgreSQL): the BambooHR
sandbox is stopped (connection refused, as when the HRIS is killed) while hires are queued.

- mirroring goes on: complete pull passes keep being recorded ``ok`` after the deliveries have
  failed at least twice, and /readyz answers 200 (a push never holds the write lock, or any
  lock a pull needs, while it waits for the target, and never sleeps out a backoff);
- the retry budget is not spent in one sitting: each failed attempt is scheduled for a later
  pass (``next_attempt_at``), so the outage uses a few attempts, not ``max_attempts``;
- once the HRIS is back (on the same port, empty of new employees), every hire is delivered
  exactly once (one employee per hire, matched by email and employee number) and none is a dead
  letter;
- the outage shows at warning level once (``sink_unreachable``: the sink, the reason class, the
  next attempt's time, the fix), not at every failed pass, and its end once at info
  (``sink_recovered``).

The retry schedule is shortened by the sink's own settings (``retry_initial_seconds``,
``retry_max_seconds``) so the test takes seconds; every wait polls with a deadline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text

from syncd.hris_sandbox.runner import HrisThreadServer, serve_in_thread
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer
from syncd.sandbox.runner import serve_in_thread as serve_tenant
from tests.conftest import sandbox_options
from tests.integration.daemon_env import DaemonProc, daemon_env, runs, start_daemon, wait_for
from tests.integration.hris.conftest import bamboo_options
from tests.integration.push_env import push_env, write_config
from tests.integration.test_mirror_sync import TENANT, control
from tests.integration.test_push_hris import assert_one_employee_per_hire, hris_sink
from tests.integration.test_push_webhook import candidates_to_hire

RESOURCES = ("jobs", "audit", "candidates", "offers")
HIRES = 4
MAX_ATTEMPTS = 40  # in one sitting at up to 2 s apart, these would hold a pass for over a minute


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_tenant(sandbox_options(candidates=30, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def _passes_since(db_url: str, since: int) -> bool:
    done = {r for r, _, s in runs(db_url, TENANT)[since:] if s == "ok"}
    return all(r in done for r in RESOURCES)


def _cursor_made(db: Engine) -> bool:
    """The sink's first pass set its cursor (at the outbox head: only later hires are sent)."""
    with db.connect() as conn:
        q = text("SELECT COUNT(*) FROM sink_cursors WHERE tenant = :t AND sink = 'hr'")
        return bool(conn.execute(q, {"t": TENANT}).scalar_one())


def _deliveries(db: Engine) -> list[dict[str, Any]]:
    """The tenant's deliveries, oldest first (the outage and hang tests read them)."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_key, state, attempts, next_attempt_at, reason, status_code "
                "FROM deliveries WHERE tenant = :t ORDER BY id"
            ),
            {"t": TENANT},
        ).all()
    return [dict(r._mapping) for r in rows]


def hire_and_wait_retried_twice(
    tenant: ThreadServer, db: Engine, d: DaemonProc, hires: int, while_: str
) -> list[dict[str, Any]]:
    """Hire ``hires`` candidates in the sandbox, then wait until each hire's delivery has been
    tried twice and waits for its next attempt (the HRIS unusable ``while_``). Returns the
    applications hired."""
    apps = candidates_to_hire(tenant, hires)
    for a in apps:
        control(tenant, "hire", {"candidateId": a["candidateId"], "jobId": a["jobId"]})

    def retried_twice() -> bool:
        rows = _deliveries(db)
        return len(rows) == hires and all(
            r["state"] == "pending" and r["attempts"] >= 2 for r in rows
        )

    wait_for(f"every hire tried twice {while_}", retried_twice, log=d.output)
    return apps


def test_an_hris_outage_never_stops_mirroring_nor_dead_letters_hires(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    hris: HrisThreadServer | None = serve_in_thread(bamboo_options(limits=False))
    assert hris is not None
    port = int(urlsplit(hris.base_url).port or 0)
    sink = hris_sink(
        hris,
        tmp_path,
        retry_initial_seconds=0.5,
        retry_max_seconds=2,
        max_attempts=MAX_ATTEMPTS,
    )
    env = daemon_env({**push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))})
    env["SYNCD_LOG_LEVEL"] = "info"  # sink_recovered is info; the warnings are counted by level
    d = start_daemon(env, tmp_path)
    try:
        wait_for("a first pass of every resource", lambda: _passes_since(db_url, 0), log=d.output)
        wait_for("the sink's cursor", lambda: _cursor_made(db), log=d.output)

        # The HRIS goes away (connection refused), then people are hired.
        hris.stop()
        hris = None
        apps = hire_and_wait_retried_twice(tenant, db, d, HIRES, "while the HRIS is down")

        # Mirroring goes on while the push keeps failing: complete pull passes after this point.
        since = len(runs(db_url, TENANT))
        wait_for(
            "pull passes of every resource during the outage",
            lambda: _passes_since(db_url, since),
            timeout=30,
            log=d.output,
        )
        wait_for("/readyz 200 during the outage", lambda: d.get("/readyz").status_code == 200)
        # Every hire tried twice: two failing passes at least, one warning.
        down = [e for e in d.events() if e["event"] == "sink_unreachable"]
        assert len(down) == 1, down
        assert down[0]["level"] == "warning" and down[0]["sink"] == "hr"
        assert "ConnectError" in down[0]["reason"], down
        assert down[0]["next_attempt_at"].endswith("Z")
        assert "[sinks.hr]" in down[0]["fix"]
        during = _deliveries(db)
        # None dead-lettered or given up: each waits for its retry, or is being tried right now
        # (a push pass may be attempting it as we read).
        assert {r["state"] for r in during} <= {"pending", "in_flight"}, during
        # Spread over passes, not spent in one sitting.
        assert all(r["attempts"] < MAX_ATTEMPTS for r in during), during
        assert all(r["next_attempt_at"] is not None for r in during), during

        # The HRIS comes back on the same address: every hire delivered, once.
        hris = serve_in_thread(bamboo_options(limits=False), port=port)

        def delivered() -> bool:
            rows = _deliveries(db)
            return len(rows) == HIRES and {r["state"] for r in rows} == {"delivered"}

        wait_for("every hire delivered after the outage", delivered, timeout=30, log=d.output)
        assert_one_employee_per_hire(tenant, hris, apps, db)
        with db.connect() as conn:
            dead = conn.execute(
                text(
                    "SELECT COUNT(*) FROM deliveries WHERE tenant = :t "
                    "AND state IN ('dead', 'rejected')"
                ),
                {"t": TENANT},
            ).scalar_one()
        assert dead == 0
        assert d.metric("syncd_dead_letters", sink="hr") == 0.0
        assert d.metric("syncd_deliveries_total", sink="hr", outcome="retrying") >= 2 * HIRES
        assert "Traceback" not in d.output()
        wait_for(
            "sink_recovered logged",
            lambda: any(e["event"] == "sink_recovered" for e in d.events()),
            log=d.output,
        )
        events = [e["event"] for e in d.events()]
        assert events.count("sink_unreachable") == 1 and events.count("sink_recovered") == 1
        assert events.index("sink_unreachable") < events.index("sink_recovered")
    finally:
        d.stop()
        if hris is not None:
            hris.stop()
