"""``syncd backfill`` as a real subprocess, SIGKILLed at random points and resumed: the mirror
ends equal to the sandbox snapshot, with every record created exactly once in the outbox."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from syncd.mirror import schema as s
from syncd.mirror.db import make_engine
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.test_mirror_interviews_approvals import (
    assert_equal as assert_followups_equal,
)
from tests.integration.test_mirror_sync import TENANT, assert_equal


@pytest.fixture
def big_tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=400, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def syncd(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def progress(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.changes)).scalar_one())


def test_killed_backfill_resumes_to_the_snapshot(big_tenant: ThreadServer, db_url: str) -> None:
    url = db_url
    env = {
        **os.environ,
        "SYNCD_DATABASE_URL": url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": big_tenant.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        # Small pages: many checkpoints to land between.
        "SYNCD_SYNC__PAGE_SIZE": "7",
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
        "SYNCD_LOG_LEVEL": "warning",
    }
    assert syncd(env, "migrate").wait(timeout=120) == 0
    db = make_engine(url)
    rng = random.Random(1234)
    kills = 0
    for _ in range(30):
        before = progress(db)
        proc = syncd(env, "backfill")
        target = before + rng.randint(5, 120)
        # Kill once the run has committed a random amount of new work (or finished).
        while proc.poll() is None and progress(db) < target:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
            break
        if kills >= 6:
            break
    assert kills >= 5
    final = syncd(env, "backfill")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    assert_equal(db, big_tenant)
    assert_followups_equal(db, big_tenant)  # interviews, timeslots, approvals
    with db.connect() as conn:
        created = Counter(
            (r.resource, r.record_key)
            for r in conn.execute(select(s.changes).where(s.changes.c.kind == "created"))
        )
        interrupted = conn.execute(
            select(func.count())
            .select_from(s.sync_runs)
            .where(s.sync_runs.c.status == "interrupted")
        ).scalar_one()
    dupes = [k for k, n in created.items() if n > 1]
    assert not dupes, dupes[:5]
    assert interrupted >= 5
    db.dispose()
