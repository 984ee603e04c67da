"""A kill at any instant resumes, and resumes only what is left: ``syncd`` as a real subprocess,
killed at every phase boundary of every resource (the test-only hook ``SYNCDTEST_KILL_AT`` makes
the process SIGKILL itself there), at random instants, and during sandbox activity; each run
resumes from the last one's checkpoint and the mirror ends equal to the sandbox's truth, with
every record created once in the outbox. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from syncd.daemon.metrics import PrometheusObserver
from syncd.mirror import schema as s
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sync.catalogue import CATALOGUE, followup_order
from syncd.sync.engine import KILL_AT
from tests.conftest import TOKEN, sandbox_options
from tests.integration.test_mirror_interviews_approvals import (
    assert_equal as assert_followups_equal,
)
from tests.integration.test_mirror_sync import TENANT, assert_equal, control, snapshot

# Every phase boundary of every resource's pass, in the order a backfill reaches them.
BOUNDARIES = [
    f"{r.name}:{phase}"
    for r in CATALOGUE
    for phase in ("start", "page", "walked", *(f.name for f in followup_order(r)), "ended")
]


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=100, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def env_for(srv: ThreadServer, url: str, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != KILL_AT},
        "SYNCD_DATABASE_URL": url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SYNC__PAGE_SIZE": "20",
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
        "SYNCD_LOG_LEVEL": "warning",
        **extra,
    }


def syncd(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(env: dict[str, str], *args: str) -> str:
    proc = syncd(env, *args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return err


def assert_truth(db: Engine, srv: ThreadServer) -> None:
    """The mirror equals the sandbox, every record was created once, nothing left running."""
    assert_equal(db, srv)
    assert_followups_equal(db, srv)
    with db.connect() as conn:
        created = Counter(
            (r.resource, r.record_key)
            for r in conn.execute(select(s.changes).where(s.changes.c.kind == "created"))
        )
        running = conn.execute(
            select(func.count()).select_from(s.sync_runs).where(s.sync_runs.c.status == "running")
        ).scalar_one()
        passes = conn.execute(
            select(func.count())
            .select_from(s.sync_state)
            .where(s.sync_state.c.pass_mode.is_not(None))
        ).scalar_one()
    dupes = [k for k, n in created.items() if n > 1]
    assert not dupes, dupes[:5]
    assert (running, passes) == (0, 0)


def test_a_kill_at_every_phase_boundary_resumes(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    env = env_for(tenant, db_url)
    for at in BOUNDARIES:
        proc = syncd({**env, KILL_AT: at}, "backfill")
        _, err = proc.communicate(timeout=300)
        # Every boundary is reached (the run resumed the previous one's state) and killed there.
        assert proc.returncode == -signal.SIGKILL, (at, err)
    # The last kill came after the offers pass had closed: the backfill was whole before it.
    assert_truth(db, tenant)
    finish(env, "backfill")  # and the next backfill is a new one, from the first page
    assert_truth(db, tenant)


def test_a_resumed_backfill_spends_no_calls_on_finished_passes(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    """Killed in its last pass (offers, after its walk), the backfill resumes: the passes it had
    finished cost what an incremental pass costs when nothing changed, one call each."""
    # No lag window and an hour later: as in the quiet-pass test of test_mirror_sync, an
    # incremental pass then costs one call per resource.
    env = env_for(tenant, db_url, SYNCD_SYNC__LAG_WINDOW_SECONDS="0")
    proc = syncd({**env, KILL_AT: "offers:walked"}, "backfill")
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    control(tenant, "clock", {"advance": 3600})
    with db.connect() as conn:
        before = conn.execute(select(func.max(s.sync_runs.c.id))).scalar_one()
    err = finish(env, "backfill")
    assert "offers: resumed the interrupted backfill pass at follow-ups" in err
    runs: dict[str, list[Any]] = {}
    with db.connect() as conn:
        for r in conn.execute(
            select(s.sync_runs).where(s.sync_runs.c.id > before).order_by(s.sync_runs.c.id)
        ):
            runs.setdefault(r.resource, []).append((r.mode, r.fetched, r.api_calls))
    assert {k: [(m, c) for m, _, c in v] for k, v in runs.items() if k != "offers"} == {
        "jobs": [("incremental", 1)],
        "audit": [("incremental", 1)],
        "candidates": [("incremental", 1)],
    }
    # The offers pass did not walk again (its follow-ups' calls only), then caught up with what
    # changed since it began: one call.
    (mode, fetched, _), catch_up = runs["offers"]
    assert (mode, fetched) == ("backfill", 0)
    assert catch_up[0::2] == ("incremental", 1)
    assert_truth(db, tenant)


def wait_for_a_pass(db: Engine, after: int, proc: subprocess.Popen[str]) -> bool:
    """Until the run ``proc`` has recorded a pass (a sync_runs row after ``after``) or ended;
    killed and failed when it has done neither in 120 s."""
    deadline = time.monotonic() + 120
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("the run neither recorded a pass nor ended in 120 s")
        with db.connect() as conn:
            if (conn.execute(select(func.max(s.sync_runs.c.id))).scalar_one() or 0) > after:
                return True
        time.sleep(0.01)
    return False


def last_run_id(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.max(s.sync_runs.c.id))).scalar_one() or 0)


def kill_randomly(
    db: Engine, env: dict[str, str], args: tuple[str, ...], rng: random.Random, between: Any
) -> tuple[int, int]:
    """Runs of ``syncd args``, each SIGKILLed at a random instant once it has started a pass
    (``between()`` runs before each), until 20 were killed. Returns (kills, runs that ended)."""
    kills = ended = 0
    while kills < 20:
        between()
        proc = syncd(env, *args)
        if wait_for_a_pass(db, last_run_id(db), proc):
            deadline = time.monotonic() + rng.uniform(0.0, 0.6)
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            err = proc.stderr.read() if proc.stderr else ""
            assert proc.returncode in (0, 4), err  # 4: a walk saw records move under it
            ended += 1
    return kills, ended


@pytest.mark.slow
def test_twenty_random_kills_over_a_backfill(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    env = env_for(tenant, db_url, SYNCD_SYNC__PAGE_SIZE="7")
    kills, _ = kill_randomly(db, env, ("backfill",), random.Random(1234), lambda: None)
    assert kills == 20
    finish(env, "backfill")
    assert_truth(db, tenant)
    with db.connect() as conn:
        interrupted = conn.execute(
            select(func.count())
            .select_from(s.sync_runs)
            .where(s.sync_runs.c.status == "interrupted")
        ).scalar_one()
    assert interrupted >= 15  # most kills landed inside a pass


@pytest.mark.slow
def test_twenty_random_kills_of_sync_once_during_activity(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    env = env_for(tenant, db_url, SYNCD_SYNC__PAGE_SIZE="7")
    finish(env, "backfill")
    rng = random.Random(99)
    steps = [0]

    def activity() -> None:
        steps[0] += len(control(tenant, "activity", {"steps": rng.randint(1, 6)})["steps"])

    kills, _ = kill_randomly(db, env, ("sync", "--once"), rng, activity)
    assert kills == 20 and steps[0] >= 20
    # The last killed run may have resumed a walk whose listing changed between runs: that walk
    # is incomplete (exit 4, nothing deleted, cursor unmoved) and the next pass walks again.
    proc = syncd(env, "sync", "--once")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 4), err
    finish(env, "sync", "--once")
    assert_truth(db, tenant)


def test_an_unreadable_checkpoint_stops_with_one_line_and_restart_clears_it(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    env = env_for(tenant, db_url)
    proc = syncd({**env, KILL_AT: "candidates:page"}, "backfill")
    proc.communicate(timeout=300)
    with db.begin() as conn:  # what an older syncd left: a bare token
        conn.execute(
            s.sync_state.update()
            .where(s.sync_state.c.resource == "candidates")
            .values(pass_page="<walked>")
        )
    bad = syncd(env, "backfill")
    _, err = bad.communicate(timeout=120)
    assert bad.returncode == 2
    assert err.strip() == (
        "syncd: candidates: the checkpoint of the pass in progress cannot be read (not a syncd "
        "checkpoint); run `syncd backfill --restart --resources candidates` to start that pass "
        "again (the mirror's rows stay)"
    )
    with db.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(s.candidates)).scalar_one()
    assert kept > 0
    err = finish(env, "backfill", "--restart", "--resources", "candidates")
    assert "syncd: restart: checkpoints discarded (candidates); the mirror's rows stay" in err
    # The rest of the same backfill: offers; the others were finished (candidates just now).
    err = finish(env, "backfill")
    for name in ("jobs", "audit", "candidates"):
        assert f"{name}: backfill finished before the interruption; incremental pass" in err
    assert_truth(db, tenant)


def test_a_sweep_killed_at_every_phase_boundary_resumes(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    """``sync --once --sweep`` killed at each boundary of the passes that sweep (jobs and
    candidates; the others resume as in the backfill test), each run resuming the last, with a
    candidate deleted and others updated in between: the sweep that ends deletes only what is
    gone, and the mirror equals the snapshot."""
    env = env_for(tenant, db_url)
    finish(env, "backfill")
    snap = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=60).json()
    gone = sorted(snap["candidates"])[0]
    control(tenant, f"candidates/{gone}/delete")
    sweeping = tuple(f"{r.name}:" for r in CATALOGUE if r.sweep_deletes)
    for at in [b for b in BOUNDARIES if b.startswith(sweeping)]:
        control(tenant, "activity", {"steps": 2})
        proc = syncd({**env, KILL_AT: at}, "sync", "--once", "--sweep")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, (at, err)
    finish(env, "sync", "--once", "--sweep")
    assert_truth(db, tenant)
    with db.connect() as conn:
        row = conn.execute(select(s.candidates).where(s.candidates.c.id == gone)).one()
    assert row.deleted_at is not None and row.first_name is None


def test_a_backfill_pass_finished_by_sync_once_counts_for_the_backfill(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    env = env_for(tenant, db_url)
    proc = syncd({**env, KILL_AT: "candidates:page"}, "backfill")
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    err = finish(env, "sync", "--once")
    assert "candidates: resumed the interrupted backfill pass at its walk" in err
    err = finish(env, "backfill")
    for name in ("jobs", "audit", "candidates"):
        assert f"{name}: backfill finished before the interruption; incremental pass" in err
    assert "offers: backfill finished" not in err  # sync --once gave it an incremental pass
    assert_truth(db, tenant)


def test_a_pass_killed_mid_walk_shows_the_counts_it_committed(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    """The run row's counts are written with each write group: a backfill SIGKILLed after the
    jobs walk's third page (one page per group: three groups committed) shows, in the run row
    and in `syncd status`, the rows that are in the mirror, not zeros."""
    env = env_for(tenant, db_url, SYNCD_SYNC__PAGE_SIZE="5")
    proc = syncd({**env, KILL_AT: "jobs:page3"}, "backfill")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err
    with db.connect() as conn:
        ids = set(conn.execute(select(s.jobs.c.id)).scalars())
        (run,) = conn.execute(select(s.sync_runs).where(s.sync_runs.c.resource == "jobs")).all()
    # /metrics reads the same row: the pass recorded `running` shows what it committed.
    observer = PrometheusObserver()
    observer.refresh_from_mirror(db, TENANT, [])
    gauge = {
        (sample.labels["resource"], sample.labels["outcome"]): sample.value
        for metric in observer.registry.collect()
        if metric.name == "syncd_pass_running_records"
        for sample in metric.samples
    }
    listed = set(snapshot(tenant)["jobs"])
    jobs = len(ids)
    # Three pages of five, of the sandbox's jobs, more left to walk.
    assert jobs == 15 and ids < listed
    assert (run.status, run.fetched, run.inserted, run.updated, run.deleted) == (
        "running",
        jobs,
        jobs,
        0,
        0,
    )
    assert run.api_calls >= 3  # a listing call per page, and the children of its jobs
    assert gauge[("jobs", "inserted")] == jobs and gauge[("jobs", "updated")] == 0
    assert {r for r, _ in gauge} == {"jobs"}
    out = subprocess.run(
        [sys.executable, "-m", "syncd", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)["resources"]["jobs"]["last_run"]
    assert (shown["status"], shown["process_gone"]) == ("interrupted", True)
    assert (shown["fetched"], shown["inserted"], shown["api_calls"]) == (
        jobs,
        jobs,
        run.api_calls,
    )
    text_out = subprocess.run(
        [sys.executable, "-m", "syncd", "status"], env=env, capture_output=True, text=True
    )
    assert "interrupted (process gone)" in text_out.stdout, text_out.stdout
