"""Delivery under failure, over real HTTP with ``syncd push --once`` as a real subprocess:
SIGKILL at random points then a run to the end (every hire exactly once by external key, never
under two delivery ids); a receiver answering 503 for a while (the backlog in order after it
recovers); one payload answered 422 (a dead letter with the receiver's message, ONBOARDING_FAILED
written back, all others delivered); a revoked hire reaches the sink; 404
ONBOARDING_STATUS_NOT_ACTIVE reported once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from syncd.mirror import schema as s
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.push_env import (
    onboarding_writes,
    pass_totals,
    push_env,
    push_until_settled,
    syncd_run,
    write_config,
)
from tests.integration.test_mirror_sync import control, run_pass, settings_for
from tests.integration.test_push_webhook import candidates_to_hire, webhook_sink
from tests.receiver import ReceiverServer


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(
        sandbox_options(candidates=120, jobs=8, limits=LimitConfig(enabled=False))
    )
    yield srv
    srv.stop()


def hire_many(
    tenant: ThreadServer, db: Engine, db_url: str, n: int
) -> tuple[Any, list[dict[str, Any]]]:
    """Backfill, then ``n`` hires in the sandbox and an incremental pass that sees them."""
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    apps = candidates_to_hire(tenant, n)
    return st, apps


def do_hires(tenant: ThreadServer, apps: list[dict[str, Any]]) -> None:
    for a in apps:
        control(tenant, "hire", {"candidateId": a["candidateId"], "jobId": a["jobId"]})


def delivery_rows(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(s.deliveries).order_by(s.deliveries.c.id))
        ]


def test_sigkill_at_random_points_then_to_the_end(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 30)
    sink = webhook_sink(receiver, batch_size=2, concurrency=1)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))
    assert syncd_run(env, "push", "--once").returncode == 0  # the sink starts at the head
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")

    rng = random.Random(20261129)
    kills = 0
    for _ in range(40):
        before = len(receiver.state.received)
        target = before + rng.randint(0, 3)
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "push", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Kill once the run has made a random amount of progress at the receiver (or ended).
        deadline = time.monotonic() + 120
        while proc.poll() is None and len(receiver.state.received) < target:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError("push --once neither delivered nor ended in 120 s")
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
            break
    assert kills >= 5
    final = syncd_run(env, "push", "--once")
    assert final.returncode == 0, final.stderr

    expected = {f"sr-{a['id']}" for a in apps}
    got = receiver.state.hires()
    assert set(got) == expected
    # Each key under exactly one delivery id, and (lookup before create) received once.
    assert all(len(ids) == 1 for ids in got.values())
    raw = [r.external_key for r in receiver.state.received if r.type == "application.hired"]
    assert sorted(raw) == sorted(expected)
    assert receiver.state.unverified == 0
    rows = delivery_rows(db)
    assert {r["external_key"] for r in rows} == expected
    assert {r["state"] for r in rows} == {"delivered"}
    for a in apps:
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]


def test_backlog_after_503_in_order_and_422_is_a_dead_letter(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 8)
    sink = webhook_sink(receiver, concurrency=1, max_attempts=12)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")

    bad = f"sr-{apps[3]['id']}"
    receiver.state.fail_next = 3  # the receiver is down for the next 3 requests
    message = "department 'Ocean Research' does not exist"
    receiver.state.reject[bad] = (422, json.dumps({"message": message}))
    # One attempt per delivery and pass: each pass finds the receiver down at its first send,
    # holds the rest back (no attempt counted), and the 4th delivers the backlog.
    outs = push_until_settled(env, db_url)
    totals = pass_totals(outs)
    assert (totals["delivered"], totals["rejected"], totals["dead"]) == (7, 1, 0), totals
    assert len(outs) == 4 and totals["retrying"] == 3 and totals["held"] == 3 * 7

    # In order of the hires (the outbox's order), the rejected one left out.
    order = [r["external_key"] for r in delivery_rows(db)]
    got = [r.external_key for r in receiver.state.received]
    assert got == [k for k in order if k != bad]
    assert len(got) == 7
    dead = json.loads(
        syncd_run(env, "deliveries", "list", "--state", "dead-letters", "--json").stdout
    )
    assert [(d["external_key"], d["state"], d["status_code"]) for d in dead] == [
        (bad, "rejected", 422)
    ]
    assert message in dead[0]["reason"]
    assert onboarding_writes(tenant, apps[3]["id"]) == ["ONBOARDING_FAILED"]
    assert onboarding_writes(tenant, apps[0]["id"]) == [
        "READY_TO_ONBOARD",
        "ONBOARDING_SUCCESSFUL",
    ]

    # The operator fixes the target and retries the dead letter: delivered, status corrected.
    del receiver.state.reject[bad]
    retried = syncd_run(env, "deliveries", "retry", "--dead")
    assert retried.returncode == 0 and "1 dead letter(s) queued again" in retried.stdout
    assert syncd_run(env, "push", "--once").returncode == 0
    assert [r.external_key for r in receiver.state.received][-1] == bad
    assert onboarding_writes(tenant, apps[3]["id"]) == [
        "ONBOARDING_FAILED",
        "ONBOARDING_SUCCESSFUL",
    ]

    # Ids that are not dead letters are named, with what they are, up to five; none changes.
    ids = [r["id"] for r in delivery_rows(db)]
    wrong = syncd_run(env, "deliveries", "retry", str(ids[0]), "999999", str(ids[0]))
    assert (wrong.returncode, wrong.stdout) == (2, "0 dead letter(s) queued again\n")
    assert wrong.stderr.strip() == (
        f"syncd: not dead letters, left as they are: {ids[0]} (delivered), "
        "999999 (no such delivery) (see syncd deliveries list)"
    )
    many = syncd_run(env, "deliveries", "retry", *map(str, ids))
    assert many.returncode == 2
    assert many.stderr.strip() == (
        "syncd: not dead letters, left as they are: "
        + ", ".join(f"{i} (delivered)" for i in ids[:5])
        + f" and {len(ids) - 5} more (see syncd deliveries list)"
    )
    assert {r["state"] for r in delivery_rows(db)} == {"delivered"}


@pytest.mark.parametrize("status", [503, 401])
def test_attempts_exhausted_is_dead_with_the_targets_message(
    tenant: ThreadServer,
    receiver: ReceiverServer,
    db: Engine,
    db_url: str,
    tmp_path: Path,
    status: int,
) -> None:
    """Transient answers (503) and refused credentials (401, alerted) retry until
    ``max_attempts``, then a dead letter; neither becomes ONBOARDING_FAILED."""
    st, apps = hire_many(tenant, db, db_url, 1)
    sink = webhook_sink(receiver, max_attempts=3)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    receiver.state.fail_next, receiver.state.fail_status = 100, status
    outs = push_until_settled(env, db_url)
    out = outs[-1]
    assert "dead 1" in out.stdout, out.stdout
    assert len(outs) == 3  # one attempt per pass: the retries are spread over passes
    (row,) = delivery_rows(db)
    reason = "HTTP 401: credentials refused" if status == 401 else "HTTP 503"
    assert (row["state"], row["attempts"], row["status_code"], row["reason"]) == (
        "dead",
        3,
        status,
        reason,
    )
    assert ("sink_auth_refused" in out.stdout + out.stderr) == (status == 401)
    assert onboarding_writes(tenant, apps[0]["id"]) == []  # never FAILED for a transient error


def test_revoked_hire_reaches_the_sink(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 3)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    assert syncd_run(env, "push", "--once").returncode == 0
    assert len(receiver.state.hires()) == 3

    # One hire moved away from HIRED, one candidate deleted; the third stays.
    moved, gone = apps[0], apps[1]
    control(
        tenant,
        "status",
        {"candidateId": moved["candidateId"], "jobId": moved["jobId"], "status": "WITHDRAWN"},
    )
    control(tenant, f"candidates/{gone['candidateId']}/delete")
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    revoked = [r for r in receiver.state.received if r.type == "application.hire_revoked"]
    assert sorted(r.external_key or "" for r in revoked) == sorted(
        [f"sr-{moved['id']}", f"sr-{gone['id']}"]
    )
    for r in revoked:
        assert r.body["data"]["target_id"] is not None
    # The deleted candidate's personal data left the deliveries too (the payload sent), not
    # only the mirror's record tables; the others keep theirs.
    d = s.deliveries
    with db.connect() as conn:
        kept = {
            (row.candidate_id, row.event_type): row.payload
            for row in conn.execute(select(d.c.candidate_id, d.c.event_type, d.c.payload))
        }
    assert kept[(gone["candidateId"], "application.hired")] is None
    assert kept[(moved["candidateId"], "application.hired")] is not None
    # Once: a further pass sends nothing new.
    assert syncd_run(env, "push", "--once").returncode == 0
    assert len([r for r in receiver.state.received if r.type == "application.hire_revoked"]) == 2


def test_onboarding_status_not_active_is_reported_once(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 2)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    control(tenant, "settings", {"onboardingStatusEnabled": False})
    first = syncd_run(env, "push", "--once")
    assert first.returncode == 0
    assert first.stderr.count("ONBOARDING_STATUS_NOT_ACTIVE") == 1
    assert "enable the 'Onboarding Status'" in first.stderr
    second = syncd_run(env, "push", "--once")
    assert "ONBOARDING_STATUS_NOT_ACTIVE" not in second.stderr
    assert len(receiver.state.hires()) == 2  # deliveries go on
    # Enabled again: the backlog is written on the next push.
    control(tenant, "settings", {"onboardingStatusEnabled": True})
    assert syncd_run(env, "push", "--once").returncode == 0
    for a in apps:
        assert onboarding_writes(tenant, a["id"])[-1] == "ONBOARDING_SUCCESSFUL"


def test_start_beginning_and_a_date(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """A new sink with ``start = beginning`` receives every live hire in the mirror; with a date,
    the hires made on or after it."""
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    truth = tenant.sandbox.tenant
    hired = {
        f"sr-{a['id']}": max(
            h["changedOn"] for h in truth.app_history[a["id"]] if h["status"] == "HIRED"
        )
        for a in truth.applications.values()
        if a["status"] == "HIRED" and not truth.candidates[a["candidateId"]].get("deleted")
    }
    assert len(hired) >= 3
    cut = sorted(hired.values())[len(hired) // 2][:10]
    env = push_env(
        tenant,
        db_url,
        write_config(
            tmp_path,
            {
                "all": webhook_sink(receiver, start="beginning"),
                "recent": webhook_sink(receiver, start=cut, url=receiver.hooks + "?recent"),
            },
        ),
    )
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    rows = delivery_rows(db)
    assert {r["external_key"] for r in rows if r["sink"] == "all"} == set(hired)
    assert {r["external_key"] for r in rows if r["sink"] == "recent"} == {
        k for k, at in hired.items() if at[:10] >= cut
    }
    assert {r["state"] for r in rows} == {"delivered"}


def test_hire_waits_for_its_details_and_skip(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import update

    st, apps = hire_many(tenant, db, db_url, 2)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    # As if the details call of the first hire had not been made yet.
    a = s.applications
    first, second = apps
    with db.begin() as conn:
        conn.execute(
            update(a)
            .where(a.c.candidate_id == first["candidateId"], a.c.job_id == first["jobId"])
            .values(details_pending=True)
        )
    out = syncd_run(env, "push", "--once")
    assert "delivered 1" in out.stdout and "waiting 1" in out.stdout, out.stdout
    assert set(receiver.state.hires()) == {f"sr-{second['id']}"}
    with db.begin() as conn:
        conn.execute(update(a).values(details_pending=False))
    out = syncd_run(env, "push", "--once")
    assert "delivered 1" in out.stdout, out.stdout
    assert set(receiver.state.hires()) == {f"sr-{first['id']}", f"sr-{second['id']}"}

    # An operator skips a dead letter; skip refuses a delivered one.
    (row,) = [r for r in delivery_rows(db) if r["external_key"] == f"sr-{first['id']}"]
    refused = syncd_run(env, "deliveries", "skip", str(row["id"]), "--reason", "entered by hand")
    assert refused.returncode == 2 and "was delivered already" in refused.stderr


def test_retry_after_is_honoured(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """A 429 with ``Retry-After: 1`` (within ``retry_max_seconds``): the next attempt comes no
    sooner, although the sink's own backoff would retry after 0.01 s."""
    st, apps = hire_many(tenant, db, db_url, 1)
    sink = webhook_sink(receiver, retry_max_seconds=30)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    receiver.state.fail_next, receiver.state.fail_status = 1, 429
    receiver.state.retry_after = "1"
    outs = push_until_settled(env, db_url)
    assert pass_totals(outs)["delivered"] == 1, outs[-1].stdout
    first, second = receiver.state.times
    assert second - first >= 1.0


def test_a_long_retry_after_parks_the_delivery_for_the_next_pass(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """Retry-After longer than retry_max_seconds: the pass does not sleep an hour; the delivery
    stays pending (attempt counted), due again after retry_max_seconds, and a later pass sends
    it."""
    st, apps = hire_many(tenant, db, db_url, 2)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    receiver.state.fail_next, receiver.state.fail_status = 1, 429
    receiver.state.retry_after = "3600"
    out = syncd_run(env, "push", "--once", timeout=60)
    assert "delivered 1" in out.stdout and "parked 1 (Retry-After)" in out.stdout, out.stdout
    parked = [r for r in delivery_rows(db) if r["state"] == "pending"]
    assert len(parked) == 1 and parked[0]["attempts"] == 1
    assert "Retry-After 3600 s, longer than retry_max_seconds" in parked[0]["reason"]
    outs = push_until_settled(env, db_url)
    assert pass_totals(outs)["delivered"] == 1, outs[-1].stdout
    assert {r["state"] for r in delivery_rows(db)} == {"delivered"}
    assert [r["attempts"] for r in delivery_rows(db)] in ([1, 2], [2, 1])


def test_a_second_push_on_the_same_mirror_is_refused(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 1)
    sink = webhook_sink(receiver, timeout=120)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": sink}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    # The first push waits for a slow target (it never sleeps out a retry), holding the mirror.
    receiver.state.hold = 60
    first = subprocess.Popen(
        [sys.executable, "-m", "syncd", "push", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not receiver.state.times and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiver.state.times, "the first push never reached the receiver"
        second = syncd_run(env, "push", "--once")
        assert second.returncode == 5
        assert "another syncd is pushing from the mirror" in second.stderr
        assert f"pid {first.pid} on " in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        receiver.state.hold = 0
    # The holder was killed: the lock went with it, and a push runs again.
    again = syncd_run(env, "push", "--once")
    assert again.returncode == 0, again.stderr
    assert set(receiver.state.hires()) == {f"sr-{apps[0]['id']}"}


def test_a_refused_write_back_exits_3_and_the_next_push_writes_it(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 1)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    wrong = {**env, "SYNCD_SMARTRECRUITERS__API_KEY": "not-the-key"}
    out = syncd_run(wrong, "push", "--once")
    assert out.returncode == 3, out.stderr
    assert "refused the credential for the onboarding status write-back (HTTP 401)" in out.stderr
    assert "not-the-key" not in out.stdout + out.stderr
    assert len(receiver.state.hires()) == 1  # the delivery itself went through
    assert onboarding_writes(tenant, apps[0]["id"]) == []
    assert syncd_run(env, "push", "--once").returncode == 0
    # The backlog is written: READY_TO_ONBOARD, then ONBOARDING_SUCCESSFUL (policy on-create).
    assert onboarding_writes(tenant, apps[0]["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]


def test_report_deliveries_shows_each_hire_per_sink(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, apps = hire_many(tenant, db, db_url, 2)
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    assert syncd_run(env, "push", "--once").returncode == 0
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    assert syncd_run(env, "push", "--once").returncode == 0
    out = syncd_run(env, "report", "report_deliveries", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    got = sorted(
        (r["sink"], r["event_type"], r["external_key"], r["state"], r["onboarding_written"])
        for r in rows
    )
    assert got == sorted(
        ("hr", "application.hired", f"sr-{a['id']}", "delivered", "ONBOARDING_SUCCESSFUL")
        for a in apps
    )
    assert sorted(r["external_key"] for r in rows) == sorted(receiver.state.hires())
