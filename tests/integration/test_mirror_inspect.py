"""``syncd status``, ``syncd quarantine`` and ``syncd report`` read a mirror that a real backfill
(over HTTP, from the sandbox) filled, on SQLite and PostgreSQL, and agree with the sandbox."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from typing import Any

from click.testing import CliRunner
from sqlalchemy import update

from syncd.cli import main
from syncd.mirror import schema as s
from syncd.mirror.db import make_engine
from syncd.mirror.store import utcnow
from syncd.sandbox.runner import ThreadServer
from tests.conftest import TOKEN
from tests.integration.test_daemon_tenants import holding
from tests.integration.test_mirror_sync import sandbox_view, snapshot

TENANT = "inspect"


def cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    r = CliRunner().invoke(main, list(args), env=env)
    assert r.exit_code == code, r.output
    return r.output


def test_status_quarantine_and_reports_after_a_backfill(
    open_sandbox: ThreadServer, db_url: str
) -> None:
    env = {
        "SYNCD_DATABASE_URL": db_url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": open_sandbox.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
    }
    out = cli(env, "status", code=2)
    assert "run `syncd migrate` first" in out
    cli(env, "migrate")
    assert "no pass has run yet; run `syncd backfill`" in cli(env, "status")
    # A process holding the writer lock (a daemon leading the tenant) runs the first pass:
    # status names it instead of advising a backfill; the push lock's holder is shown too.
    host = socket.gethostname()
    with holding(db_url, TENANT, "writer") as writer, holding(db_url, TENANT, "push") as pusher:
        out = cli(env, "status")
        assert f"writer (leading daemon or command): pid {writer.pid} on {host}, since 20" in out
        assert f"pusher (leading daemon or `syncd push`): pid {pusher.pid} on {host}, since" in out
        assert (
            f"tenant {TENANT}: no pass has run yet; the writer holding the lock (pid {writer.pid} "
            f"on {host}) runs the first one"
        ) in out
        assert "run `syncd backfill`" not in out
        view = json.loads(cli(env, "status", "--json"))["daemon"]
        assert (view["leader"]["pid"], view["pusher"]["pid"]) == (writer.pid, pusher.pid)
    out = cli(env, "status")
    assert "pusher (leading daemon or `syncd push`): none" in out
    assert "nothing in quarantine" in cli(env, "quarantine")

    # One job's positions carry an entry without an id: its children go to quarantine.
    t = open_sandbox.sandbox.tenant
    bad_job = next(j for j in sorted(t.positions) if t.positions[j])
    next(iter(t.positions[bad_job].values()))["id"] = ""
    out = cli(env, "backfill")
    m = re.search(r"syncd: (\d+) API calls", out)
    assert m, out
    calls = int(m.group(1))

    st = json.loads(cli(env, "status", "--json"))
    truth = sandbox_view(snapshot(open_sandbox))
    assert st["tenant"] == TENANT
    assert set(st["resources"]) == {"jobs", "audit", "candidates", "offers"}
    for name, r in st["resources"].items():
        assert r["in_progress"] is None, name
        assert r["cursor"] and r["last_pass_ended_at"], name
        assert (r["last_run"]["mode"], r["last_run"]["status"]) == ("backfill", "ok"), name
    # The job's total also holds its credential check (one call before any pass starts).
    assert sum(r["last_run"]["api_calls"] for r in st["resources"].values()) + 1 == calls
    assert st["resources"]["jobs"]["last_run"]["quarantined"] == 1
    assert st["resources"]["candidates"]["last_run"]["fetched"] == len(truth["candidates"])
    rows = st["rows"]
    assert rows["candidates"] == {"live": len(truth["candidates"]), "deleted": 0}
    assert rows["applications"]["live"] == len(truth["applications"])
    assert rows["offers"]["live"] == len(truth["offers"])
    assert rows["jobs"]["live"] == len(truth["jobs"])
    # The bad job's positions are held back; every other job's are mirrored.
    good = {p for p, j in truth["positions"].items() if j != bad_job}
    assert rows["positions"]["live"] == len(good)
    # A complete backfill leaves no follow-up owed.
    assert st["pending"] and set(st["pending"].values()) == {0}
    assert st["quarantined"] == {"positions": 1}

    human = cli(env, "status")
    for word in ("jobs", "audit", "candidates", "offers", "rows in the mirror", "quarantined"):
        assert word in human
    assert "owed by the next pass" not in human

    q = json.loads(cli(env, "quarantine", "--json"))
    assert [(x["resource"], x["key"], x["reason"]) for x in q] == [
        ("positions", bad_job, "position: missing or empty 'id'")
    ]
    assert isinstance(q[0]["raw"], list) and {"positionId", "type"} <= set(q[0]["raw"][0])
    assert "nothing in quarantine" in cli(env, "quarantine", "--resource", "audit")
    raw = cli(env, "quarantine", "--raw")
    assert bad_job in raw and '"positionId"' in raw

    # Reports: the README's queries, by name, against the sandbox's truth.
    listed = cli(env, "report")
    assert "pipeline_by_status" in listed and "SELECT" in listed
    pipeline = json.loads(cli(env, "report", "pipeline_by_status", "--json"))
    expected = Counter(a["status"] for a in truth["applications"].values())
    assert {r["status"]: r["applications"] for r in pipeline} == dict(expected)
    assert "Invalid value for '[NAME]'" in cli(env, "report", "nope", code=2)
    offers: list[dict[str, Any]] = json.loads(cli(env, "report", "offer_acceptance_rate", "--json"))
    statuses = Counter(o[2] for o in truth["offers"].values())
    assert offers[0]["accepted"] == statuses["ACCEPTED"]
    assert offers[0]["decided"] == statuses["ACCEPTED"] + statuses["NOT_ACCEPTED"]

    # A pass that did not end (a killed backfill) shows where the next run resumes.
    eng = make_engine(db_url)
    with eng.begin() as conn:
        conn.execute(
            update(s.sync_state)
            .where(s.sync_state.c.tenant == TENANT, s.sync_state.c.resource == "candidates")
            .values(pass_mode="backfill", pass_started_at=utcnow(), pass_page="p2")
        )
    eng.dispose()
    st = json.loads(cli(env, "status", "--json"))
    assert st["resources"]["candidates"]["in_progress"]["mode"] == "backfill"
    assert st["resources"]["jobs"]["in_progress"] is None
    assert "backfill from its checkpoint" in cli(env, "status")
