"""A page token the API refuses (400 INVALID_PAGE_ID) does not stall a pass: ``syncd`` as a real
subprocess, killed so that a checkpoint holds a token, then the sandbox forgets its tokens (as
after a restart of its side: ``POST /_sandbox/page-tokens``). The next run restarts that walk from
its first page and ends equal to the sandbox's truth; a sweep counts only what the restarted walk
listed. A sandbox that refuses every token fails those resources with one line each and still
pulls the others, in ``syncd backfill`` as in the daemon's pulls (whose hires still reach the
HRIS receiver). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syncd.mirror import schema as s
from syncd.mirror.db import make_engine
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sync.engine import KILL_AT
from tests.conftest import sandbox_options
from tests.integration.daemon_env import daemon_env, runs, start_daemon, wait_for
from tests.integration.push_env import push_env, write_config
from tests.integration.test_mirror_interviews_approvals import (
    assert_equal as assert_followups_equal,
)
from tests.integration.test_mirror_resume import assert_truth, env_for, finish, syncd
from tests.integration.test_mirror_sync import TENANT, assert_equal, control
from tests.integration.test_push_webhook import candidates_to_hire, webhook_sink
from tests.receiver import ReceiverServer

RESTARTED = (
    "candidates: the API refused the walk's page token (INVALID_PAGE_ID); the walk restarted "
    "from the first page"
)


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=100, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def killed_with_a_token(env: dict[str, str], db_url: str) -> str:
    """A backfill killed after the candidates walk committed its first page: the checkpoint
    holds the next page's token (returned)."""
    finish(env, "migrate")
    proc = syncd({**env, KILL_AT: "candidates:page"}, "backfill")
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    db = make_engine(db_url)
    with db.connect() as conn:
        page = conn.execute(
            select(s.sync_state.c.pass_page).where(s.sync_state.c.resource == "candidates")
        ).scalar_one()
    db.dispose()
    token = json.loads(page)["token"]
    assert isinstance(token, str) and token
    return token


def test_a_refused_checkpoint_token_restarts_the_walk(tenant: ThreadServer, db_url: str) -> None:
    env = env_for(tenant, db_url, SYNCD_LOG_FORMAT="json")
    token = killed_with_a_token(env, db_url)
    control(tenant, "activity", {"steps": 5})
    assert control(tenant, "page-tokens", {"forget": True}) == {"epoch": 1, "refuseAll": False}
    proc = syncd(env, "sync", "--once")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert RESTARTED in err
    warned = [json.loads(line) for line in err.splitlines() if "page_token_rejected" in line]
    assert [(w["resource"], w["code"], w["level"]) for w in warned] == [
        ("candidates", "INVALID_PAGE_ID", "warning")
    ]
    assert token not in err  # a token encodes a position in the tenant: never logged
    db = make_engine(db_url)
    assert_equal(db, tenant)
    assert_followups_equal(db, tenant)
    # The next run has nothing left to restart; the backfill the kill interrupted ends (offers
    # had only incremental passes) and everything equals the truth, each record created once.
    assert RESTARTED not in finish(env, "sync", "--once")
    assert RESTARTED not in finish(env, "backfill")
    assert_truth(db, tenant)
    db.dispose()


def test_a_restarted_sweep_counts_only_what_the_restarted_walk_listed(
    tenant: ThreadServer, db_url: str
) -> None:
    """A candidate the abandoned walk had listed, deleted before the walk restarts: the
    restarted walk does not list it, so the sweep deletes it (the abandoned walk's touch does not
    count as seen). Only the candidates pass runs: no audit event deletes it first."""
    env = env_for(tenant, db_url)
    killed_with_a_token(env, db_url)
    db = make_engine(db_url)
    with db.connect() as conn:
        listed = sorted(conn.execute(select(s.candidates.c.id)).scalars())
    assert listed  # the first page was written
    gone = listed[0]
    control(tenant, f"candidates/{gone}/delete")
    control(tenant, "page-tokens", {"forget": True})
    err = finish(env, "backfill", "--resources", "candidates")
    assert RESTARTED in err
    with db.connect() as conn:
        row = conn.execute(select(s.candidates).where(s.candidates.c.id == gone)).one()
        live = set(
            conn.execute(select(s.candidates.c.id).where(s.candidates.c.deleted_at.is_(None)))
            .scalars()
            .all()
        )
    assert row.deleted_at is not None and row.first_name is None
    truth = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=60).json()["candidates"]
    assert live == set(truth)
    db.dispose()


def test_refused_tokens_fail_those_resources_and_the_others_are_pulled(
    tenant: ThreadServer, db_url: str
) -> None:
    """Every token refused: audit and candidates (cursor paging, several pages) fail with one
    line each naming what to check; jobs (one page: no token) and offers (offset paging) are
    still pulled whole. Once the sandbox takes tokens again, a `sync --once` brings everything
    to the truth."""
    env = env_for(tenant, db_url)
    finish(env, "migrate")
    control(tenant, "page-tokens", {"refuseAll": True})
    proc = syncd(env, "backfill")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    failed = [line for line in err.splitlines() if line.startswith("syncd: ")]
    assert failed == [
        f"syncd: {name}: failed: SmartRecruiters refused the walk's page token again "
        "(INVALID_PAGE_ID) after the walk had restarted from the first page in this run: the "
        "pass stopped, the next run restarts its walk. If every run ends so, something between "
        "syncd and SmartRecruiters changes the page tokens (a proxy rewriting query strings) or "
        "the API is failing: check those, then run `syncd sync --once`"
        for name in ("audit", "candidates")
    ], err
    db = make_engine(db_url)
    truth = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=60).json()
    with db.connect() as conn:
        jobs = set(conn.execute(select(s.jobs.c.id)).scalars().all())
        offers = set(conn.execute(select(s.offers.c.id)).scalars().all())
        runs = dict(
            conn.execute(
                select(s.sync_runs.c.resource, s.sync_runs.c.status).where(
                    s.sync_runs.c.status == "failed"
                )
            ).all()
        )
    assert jobs == set(truth["jobs"]) and jobs
    assert offers == set(truth["offers"]) and offers
    assert runs == {"audit": "failed", "candidates": "failed"}
    control(tenant, "page-tokens", {"refuseAll": False})
    finish(env, "sync", "--once")
    assert_truth(db, tenant)
    db.dispose()


@pytest.fixture
def small() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=30, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def test_the_daemon_pulls_and_pushes_past_a_resource_whose_tokens_are_refused(
    small: ThreadServer, receiver: ReceiverServer, db_url: str, tmp_path: Path
) -> None:
    """`syncd run` while every page token is refused: the audit feed (several pages) fails in
    each pull, the resources after it are still pulled, and a hire still reaches the HRIS
    receiver. /metrics counts the refusals and the failed passes; once tokens are taken again,
    the audit pass ends ok."""
    stats = httpx.get(f"{small.base_url}/_sandbox/stats", timeout=30).json()["counts"]
    assert stats["auditEvents"] > 50 >= stats["candidates"]  # audit: several pages; others one
    config = write_config(tmp_path, {"hr": webhook_sink(receiver)})
    env = daemon_env({**push_env(small, db_url, config), "SYNCD_SYNC__PAGE_SIZE": "50"})
    finish(env, "migrate")
    control(small, "page-tokens", {"refuseAll": True})
    d = start_daemon(env, tmp_path)
    try:

        def pulled_past_audit() -> bool:
            done = runs(db_url, TENANT)
            audit = [i for i, (r, _, st) in enumerate(done) if r == "audit" and st == "failed"]
            return bool(audit) and ("offers", "incremental", "ok") in done[audit[0] :]

        wait_for("a pull past the failed audit pass", pulled_past_audit, log=d.output)
        app = candidates_to_hire(small, 1)[0]
        control(small, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        wait_for("the hire at the receiver", lambda: len(receiver.state.hires()) == 1, log=d.output)
        assert set(receiver.state.hires()) == {f"sr-{app['id']}"}
        assert d.metric("syncd_page_tokens_rejected_total", resource="audit") >= 2
        assert d.metric("syncd_passes_total", resource="audit", mode="incremental", status="failed")
        assert d.metric("syncd_job_failures_total", job="pull") >= 1
        assert "PageTokensRefused: audit: SmartRecruiters refused" in d.output()
        control(small, "page-tokens", {"refuseAll": False})
        wait_for(
            "an audit pass that ends ok",
            lambda: ("audit", "incremental", "ok") in runs(db_url, TENANT),
            log=d.output,
        )
        assert "Traceback" not in d.output()
        assert d.stop() == 0
    finally:
        d.kill()
