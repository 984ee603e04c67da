"""A hire made in the sandbox reaches a local webhook receiver exactly once, signed (verified
with ``standardwebhooks``), and its onboarding status comes back to the sandbox:
READY_TO_ONBOARD, then ONBOARDING_SUCCESSFUL. syncd's own write does not cause a new delivery.
Real HTTP, real databases, ``syncd push --once`` as a real subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.push_env import (
    onboarding_writes,
    push_env,
    syncd_run,
    write_config,
)
from tests.integration.test_mirror_sync import control, run_pass, settings_for
from tests.receiver import ReceiverServer


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=40, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def candidates_to_hire(srv: ThreadServer, n: int) -> list[dict[str, Any]]:
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", timeout=30).json()
    apps = [a for a in snap["applications"].values() if a["status"] in ("OFFERED", "INTERVIEW")]
    # One application per candidate: a person hired twice would be two hires.
    seen: set[str] = set()
    out = []
    for a in sorted(apps, key=lambda a: a["id"]):
        if a["candidateId"] not in seen:
            seen.add(a["candidateId"])
            out.append(a)
    assert len(out) >= n
    return out[:n]


def webhook_sink(receiver: ReceiverServer, **over: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "url": receiver.hooks,
        "secret_file": "SECRET_FILE",
        "status_url": receiver.status_url,
        "status_map": {"active": "ONBOARDING_SUCCESSFUL", "failed": "ONBOARDING_FAILED"},
        "status_policy": "on-activation",
        "start": "now",
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.05,
        **over,
    }


def test_hire_is_delivered_once_signed_and_written_back(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    env = push_env(tenant, db_url, write_config(tmp_path, {"hr": webhook_sink(receiver)}))
    first = syncd_run(env, "push", "--once")
    assert first.returncode == 0, first.stderr
    assert receiver.state.received == []  # start = "now": the backfill's hires are history

    app = candidates_to_hire(tenant, 1)[0]
    control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    assert "delivered 1" in out.stdout, out.stdout

    got = receiver.state.received
    assert receiver.state.unverified == 0
    assert len(got) == 1 and got[0].type == "application.hired"
    assert got[0].webhook_id.startswith("msg_")
    data = got[0].body["data"]
    assert data["external_key"] == f"sr-{app['id']}"
    truth = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=30).json()
    cand = truth["candidates"][app["candidateId"]]
    assert data["candidate"]["email"] == cand["email"]
    assert data["ids"]["application_id"] == app["id"]
    assert got[0].body["timestamp"].startswith(data["application"]["hired_on"][:19])

    # READY_TO_ONBOARD after acceptance, then ONBOARDING_SUCCESSFUL from the status readback.
    assert onboarding_writes(tenant, app["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]
    assert tenant.sandbox.tenant.applications[app["id"]]["onboardingStatus"] == (
        "ONBOARDING_SUCCESSFUL"
    )

    # syncd's own write comes back through the next sync; it sends nothing and writes nothing.
    run_pass(st, db, "incremental")
    again = syncd_run(env, "push", "--once")
    assert again.returncode == 0, again.stderr
    assert len(receiver.state.received) == 1
    assert onboarding_writes(tenant, app["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]

    listed = syncd_run(env, "deliveries", "list", "--json")
    import json

    rows = json.loads(listed.stdout)
    assert [(r["external_key"], r["state"], r["sink_status"]) for r in rows] == [
        (f"sr-{app['id']}", "delivered", "ONBOARDING_SUCCESSFUL")
    ]
    assert rows[0]["delivery_id"] == got[0].webhook_id


def test_sinks_check_reaches_the_receiver_or_says_why_not(
    receiver: ReceiverServer, tmp_path: Path, refused_port: int
) -> None:
    dead = f"http://127.0.0.1:{refused_port}/hooks"
    cfg = write_config(
        tmp_path,
        {"up": webhook_sink(receiver), "down": webhook_sink(receiver, url=dead, status_url=None)},
    )
    text = cfg.read_text().replace('status_url = "None"\n', "")
    cfg.write_text(text)
    env = {"SYNCD_CONFIG": str(cfg), "PATH": "/usr/bin:/bin"}
    up = syncd_run(env, "sinks", "check", "up")
    assert up.returncode == 0, up.stderr
    assert "up: reachable; capabilities: create, lookup, revoke, status" in up.stdout
    down = syncd_run(env, "sinks", "check", "down")
    assert down.returncode == 1
    assert "down: url: unreachable (ConnectError); check the host and port" in down.stderr
    assert receiver.state.received == []  # nothing sent by a check
    missing = syncd_run(env, "sinks", "check", "nope")
    assert missing.returncode == 2
    assert "no sink named 'nope' (sinks: down, up); add a [sinks.nope] table" in missing.stderr
