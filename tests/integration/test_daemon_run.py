"""``syncd run`` as a real subprocess against the sandbox and a webhook receiver: it syncs and
delivers a hire, its /metrics (parsed with prometheus-client's parser) count what happened, a
SIGTERM ends it with exit 0 and no run left ``running``, and a restart resumes. On SQLite a
second daemon is refused (exit 5). Short intervals come from settings; every wait polls the
database, the receiver or the daemon with a deadline."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Engine, text

from syncd.daemon.activation import activated
from syncd.mirror.lock import lock_holder
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, closed_port, listening_socket, serve_in_thread
from tests.conftest import sandbox_options, sqlite_mirror
from tests.integration.daemon_env import (
    DaemonProc,
    by_labels,
    daemon_env,
    runs,
    sandbox_stats,
    start_daemon,
    wait_for,
)
from tests.integration.push_env import push_env, syncd_run, write_config
from tests.integration.test_mirror_sync import TENANT, control, snapshot
from tests.integration.test_push_webhook import candidates_to_hire, webhook_sink
from tests.receiver import ReceiverServer

RESOURCES = ("jobs", "audit", "candidates", "offers")


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=30, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def _all_passed(db_url: str, since: int = 0) -> bool:
    done = {r for r, _, s in runs(db_url, TENANT)[since:] if s == "ok"}
    return all(r in done for r in RESOURCES)


def _metric_mismatches(d: DaemonProc, tenant: ThreadServer, db: Engine) -> list[str]:
    """What /metrics counts that differs from the truth: the sandbox's count of the calls it
    answered (by group) and of its 429s, the runs the daemon recorded in the mirror and the
    mirror's quarantine. Empty when they agree."""
    m = d.metrics()
    out = []
    calls = {g: n for (g,), n in by_labels(m, "syncd_api_calls_total", "group").items()}
    sandbox_calls, sandbox_429 = sandbox_stats(tenant.base_url)
    if calls != sandbox_calls:
        out.append(f"api calls {calls} != the sandbox's {sandbox_calls}")
    waits = {g: n for (g,), n in by_labels(m, "syncd_limiter_wait_seconds_count", "group").items()}
    if waits != calls:  # every request waited its turn in the limiter once, 429s included
        out.append(f"limiter waits {waits} != api calls {calls}")
    answered_429 = sum(
        n
        for (_, s), n in by_labels(m, "syncd_api_calls_total", "group", "status").items()
        if s == "429"
    )
    throttled = m.get(("syncd_api_throttled_total", ()), 0.0)
    if not throttled == answered_429 == sandbox_429:
        out.append(f"429s: {throttled} throttled, {answered_429} by status, sandbox {sandbox_429}")
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT resource, mode, status, COUNT(*), SUM(inserted), SUM(updated), "
                "SUM(unchanged), SUM(deleted), SUM(quarantined) FROM sync_runs "
                "WHERE tenant = :t AND status <> 'running' GROUP BY resource, mode, status"
            ),
            {"t": TENANT},
        ).all()
        quarantine = conn.execute(
            text("SELECT resource, COUNT(*) FROM quarantine WHERE tenant = :t GROUP BY resource"),
            {"t": TENANT},
        ).all()
    passes: dict[tuple[str, ...], float] = {}
    durations: dict[tuple[str, ...], float] = {}
    records: dict[tuple[str, ...], float] = {}
    outcomes = ("inserted", "updated", "unchanged", "deleted", "quarantined")
    for resource, mode, status, n, *sums in rows:
        passes[(resource, mode, status)] = float(n)
        durations[(resource, mode)] = durations.get((resource, mode), 0.0) + n
        for outcome, v in zip(outcomes, sums, strict=True):
            if v:
                records[(resource, outcome)] = records.get((resource, outcome), 0.0) + v
    checks: list[tuple[str, dict[tuple[str, ...], float], tuple[str, ...]]] = [
        ("syncd_passes_total", passes, ("resource", "mode", "status")),
        ("syncd_pass_duration_seconds_count", durations, ("resource", "mode")),
        ("syncd_records_total", records, ("resource", "outcome")),
        ("syncd_quarantined_records", {(r,): float(n) for r, n in quarantine}, ("resource",)),
    ]
    for name, truth, keep in checks:
        seen = by_labels(m, name, *keep)
        if seen != truth:
            out.append(f"{name} {seen} != the mirror's {truth}")
    return out


def test_run_syncs_delivers_stops_on_sigterm_and_resumes(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, {"hr": webhook_sink(receiver)})
    env = daemon_env({**push_env(tenant, db_url, config), "SYNCD_LOG_LEVEL": "info"})
    # A hiring team member the API's validation would refuse (quarantined, counted), and one
    # answer in twenty a 429 (retried, counted, logged).
    t = tenant.sandbox.tenant
    t.hiring_team[sorted(t.hiring_team)[0]][0]["id"] = ""
    control(tenant, "faults", {"spec": "429=0.05"})
    d = start_daemon(env, tmp_path)
    try:
        wait_for("a first pass of every resource", lambda: _all_passed(db_url))
        ready = wait_for(
            "/readyz", lambda: d.get("/readyz").status_code == 200 and d.get("/readyz")
        )
        assert ready.json()["checks"]["role"] == "leader"

        # The first pass had no cursor: every candidate of the tenant was inserted once. (A pass
        # is counted in /metrics as its sync_runs row ends, so the runs read above are counted.)
        truth = snapshot(tenant)
        assert d.metric("syncd_records_total", resource="candidates", outcome="inserted") == len(
            truth["candidates"]
        )
        assert d.metric("syncd_leader", tenant=TENANT) == 1.0
        lag = d.metric("syncd_cursor_lag_seconds", resource="candidates")
        assert 300 <= lag < 400  # the cursor sits the 300 s lag window behind a pass's start

        app = candidates_to_hire(tenant, 3)
        control(tenant, "hire", {"candidateId": app[0]["candidateId"], "jobId": app[0]["jobId"]})
        wait_for("the hire at the receiver", lambda: len(receiver.state.hires()) == 1)
        assert set(receiver.state.hires()) == {f"sr-{app[0]['id']}"}
        assert receiver.state.unverified == 0
        wait_for(
            "the delivery counted in /metrics",
            lambda: d.metric("syncd_deliveries_total", sink="hr", outcome="delivered") == 1.0,
        )
        assert d.metric("syncd_dead_letters", sink="hr") == 0.0
        assert d.get("/healthz").json()["status"] == "ok"

        # A hire the HRIS refuses (422) is a dead letter, counted by /metrics and syncd status.
        receiver.state.reject[f"sr-{app[2]['id']}"] = (422, "invalid department")
        control(tenant, "hire", {"candidateId": app[2]["candidateId"], "jobId": app[2]["jobId"]})

        # The gauge is read from the mirror at the scrape, as soon as the pass records the dead
        # letter; the counter when that push pass ends (after its write-back): both in one scrape.
        def dead_letter() -> bool:
            m = d.metrics()
            return (
                m.get(("syncd_dead_letters", (("sink", "hr"),))),
                m.get(("syncd_deliveries_total", (("outcome", "rejected"), ("sink", "hr")))),
            ) == (1.0, 1.0)

        wait_for("the dead letter and the rejection in /metrics", dead_letter, log=d.output)

        # /metrics against the truth, read between two pulls (a scrape taken while a request
        # is in flight differs, and is read again).
        last: list[list[str]] = [[]]

        def agree() -> bool:
            last[0] = _metric_mismatches(d, tenant, db)
            return not last[0]

        wait_for("/metrics to agree", agree, log=lambda: "\n".join(last[0]) + d.output())
        m = d.metrics()
        assert m[("syncd_api_throttled_total", ())] >= 1  # the faults answered some 429s
        assert m[("syncd_quarantined_records", (("resource", "hiring_team"),))] == 1
        assert sum(by_labels(m, "syncd_limiter_wait_seconds_sum", "group").values()) > 0
        assert sum(by_labels(m, "syncd_pass_duration_seconds_sum", "resource").values()) > 0

        # Each 429 retried is logged at info with the client's counts so far, and names the
        # tenant, and inside a pass the resource and the run. The daemon keeps pulling (and
        # meeting 429s) meanwhile, and counts a 429 before its retry is logged: the log is read
        # against the count until both show the same 429s.
        def retries_logged() -> list[dict[str, Any]] | None:
            throttled = d.metric("syncd_api_throttled_total")
            events = [json.loads(ln) for ln in d.output().splitlines() if ln.startswith("{")]
            waits = [e for e in events if e["event"] == "api_retry" and e["reason"] == "HTTP 429"]
            return waits if len(waits) == throttled else None

        waits = wait_for("every 429 counted logged", retries_logged, log=d.output)
        assert all(e["level"] == "info" and e["tenant"] == TENANT for e in waits)
        assert sorted(e["throttled"] for e in waits) == list(range(1, len(waits) + 1))
        in_pass = [e for e in waits if "resource" in e]
        assert in_pass, waits
        assert all(e["resource"] in RESOURCES and len(e["run_id"]) == 36 for e in in_pass)

        # syncd status shows the daemon's view: who leads, the sink's backlog and dead letters,
        # as /metrics does. The daemon keeps working meanwhile (the onboarding status written
        # back to SmartRecruiters comes back as outbox records a later push consumes), so the two
        # are compared once both show the backlog drained.
        def status_view() -> dict[str, Any]:
            st = syncd_run(env, "status", "--json")
            assert st.returncode == 0, st.stderr
            return cast(dict[str, Any], json.loads(st.stdout))

        def drained() -> dict[str, Any] | None:
            view = status_view()
            metric = d.metric("syncd_outbox_backlog", sink="hr")
            return view if view["sinks"]["hr"]["backlog"] == metric == 0 else None

        view = wait_for("status and /metrics to show the backlog drained", drained, log=d.output)
        assert view["daemon"]["leader"]["pid"] == d.proc.pid
        assert view["daemon"]["pusher"]["pid"] == d.proc.pid
        hr = view["sinks"]["hr"]
        assert (hr["dead_letters"], hr["deliveries"].get("delivered")) == (1, 1)
        text_view = syncd_run(env, "status")
        assert f"pid {d.proc.pid}" in text_view.stdout

        # A schema behind syncd's head revision: not ready, and /readyz says why.
        with db.begin() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        try:
            r = wait_for("/readyz 503", lambda: (x := d.get("/readyz")).status_code == 503 and x)
            assert r.json()["checks"]["migrations"] == f"schema at 0001, syncd needs {head}"
            assert r.json()["ready"] is False
        finally:
            with db.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
        wait_for("/readyz 200 again", lambda: d.get("/readyz").status_code == 200)

        code = d.stop()
        assert code == 0, d.output()[-3000:]
        assert "running" not in {s for _, _, s in runs(db_url, TENANT)}
    finally:
        d.kill()

    # Restart: it resumes from the cursors, and a hire made while it was down arrives once.
    before = len(runs(db_url, TENANT))
    control(tenant, "hire", {"candidateId": app[1]["candidateId"], "jobId": app[1]["jobId"]})
    d2 = start_daemon(env, tmp_path, "daemon2")
    try:
        wait_for("the second hire at the receiver", lambda: len(receiver.state.hires()) == 2)
        hires = receiver.state.hires()
        assert set(hires) == {f"sr-{app[0]['id']}", f"sr-{app[1]['id']}"}
        assert all(len(ids) == 1 for ids in hires.values())  # each delivered once
        assert d2.metric("syncd_dead_letters", sink="hr") == 1.0  # read from the mirror
        wait_for("passes after the restart", lambda: _all_passed(db_url, before))
        later = runs(db_url, TENANT)[before:]
        # The cursor was kept: the restarted daemon's passes are incremental, not a backfill.
        assert {m for _, m, _ in later} == {"incremental"}
        assert d2.stop() == 0
    finally:
        d2.kill()
    assert "running" not in {s for _, _, s in runs(db_url, TENANT)}


def test_sigterm_during_a_pass_records_it_interrupted_and_exits_0(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    # Slow answers keep the first pass busy long enough to be stopped inside it.
    control(tenant, "faults", {"spec": "latency=150ms"})
    d = start_daemon(env, tmp_path)
    try:
        wait_for("a pass running", lambda: "running" in {s for _, _, s in runs(db_url, TENANT)})
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()
    statuses = [s for _, _, s in runs(db_url, TENANT)]
    assert "running" not in statuses
    assert "interrupted" in statuses
    control(tenant, "faults", {"spec": ""})
    d2 = start_daemon(env, tmp_path, "daemon2")
    try:
        wait_for("every resource synced after the restart", lambda: _all_passed(db_url))
        assert d2.stop(signal.SIGINT) == 0  # Ctrl-C: the same clean stop
    finally:
        d2.kill()


def test_sweep_runs_on_its_interval(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    env = daemon_env(
        push_env(tenant, db_url, write_config(tmp_path, {})),
        poll_interval_seconds=3600,
        sweep_interval_hours=2 / 3600,  # two seconds
    )
    d = start_daemon(env, tmp_path)
    try:
        wait_for(
            "a sweep of every resource",
            lambda: (
                {r for r, m, s in runs(db_url, TENANT) if m == "sweep" and s == "ok"}
                >= set(RESOURCES)
            ),
        )
        modes = [m for _, m, _ in runs(db_url, TENANT)]
        assert modes[: len(RESOURCES)] == ["incremental"] * len(RESOURCES)  # the first pull
        assert d.metric("syncd_passes_total", resource="jobs", mode="sweep", status="ok") >= 1
        assert d.stop() == 0
    finally:
        d.kill()


def test_a_failing_job_is_logged_and_runs_again_at_its_next_time(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    env = daemon_env(
        {**push_env(tenant, db_url, write_config(tmp_path, {})), "SYNCD_LOG_LEVEL": "info"}
    )
    env["SYNCD_SMARTRECRUITERS__MAX_RETRIES"] = "0"
    d = start_daemon(env, tmp_path)
    try:
        wait_for("a first pass of every resource", lambda: _all_passed(db_url))
        control(tenant, "faults", {"spec": "500=1.0"})  # every API answer a 500 now
        wait_for("failed pulls", lambda: d.metric("syncd_job_failures_total", job="pull") >= 2)
        assert d.proc.poll() is None  # still running
        assert '"event": "job_failed"' in d.output()

        # No good pass for over 3x the poll interval: not ready, and /readyz says which.
        def stale() -> set[str]:
            r = d.get("/readyz")
            passes = r.json()["checks"]["passes"] if r.status_code == 503 else "ok"
            return set(passes["last ok older than 3x interval"]) if passes != "ok" else set()

        wait_for("/readyz to name every resource stale", lambda: stale() == set(RESOURCES))
        assert d.get("/healthz").status_code == 200  # alive all the same
        control(tenant, "faults", {"spec": ""})
        before = len(runs(db_url, TENANT))
        wait_for("passes again", lambda: _all_passed(db_url, before))
        wait_for("ready again", lambda: d.get("/readyz").status_code == 200)
        assert "Traceback" not in d.output()
        assert d.stop() == 0
    finally:
        d.kill()


def test_second_daemon_on_sqlite_is_refused_with_exit_5(
    tenant: ThreadServer, migrated_sqlite: Path, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    sqlite_mirror(migrated_sqlite, tmp_path / "mirror.db").dispose()
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    d = start_daemon(env, tmp_path)
    try:
        # On any free port (0: the lock refuses it before it binds one) and on the first one's
        # (refused before the port is tried).
        for port in (0, d.port):
            second = syncd_run({**env, "SYNCD_HTTP__PORT": str(port)}, "run", timeout=60)
            assert second.returncode == 5, second.stderr
            assert "another syncd is writing to the mirror" in second.stderr
            assert f"pid {d.proc.pid}" in second.stderr
            assert "Traceback" not in second.stderr
    finally:
        assert d.stop() == 0
        d.kill()


def test_http_port_0_serves_on_the_port_named_in_daemon_started(
    tenant: ThreadServer, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    env |= {"SYNCD_HTTP__PORT": "0", "SYNCD_LOG_LEVEL": "info", "SYNCD_LOG_FORMAT": "json"}
    assert syncd_run(env, "migrate").returncode == 0
    log = tmp_path / "run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "run"], env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    try:

        def started() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(f"syncd run exited {proc.returncode}: {log.read_text()}")
            for line in log.read_text().splitlines():
                event = json.loads(line) if line.startswith("{") else {}
                if event.get("event") == "daemon_started":
                    return str(event["http"])
            return None

        http = wait_for("the daemon_started line", started, timeout=90, log=log.read_text)
        host, port = http.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        assert httpx.get(f"http://{http}/healthz", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_passed_socket_that_does_not_listen_is_refused_with_exit_2(
    tenant: ThreadServer, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    assert syncd_run(env, "migrate").returncode == 0
    with closed_port() as port, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening
        cmd, fds = activated([sys.executable, "-m", "syncd", "run"], sock)
        env["SYNCD_HTTP__PORT"] = str(port)  # not read: the passed socket is checked instead
        run = subprocess.run(cmd, env=env, pass_fds=fds, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "LISTEN_FDS: descriptor 3 is not a listening TCP socket" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_configuration_stops_run_before_anything_starts(
    tenant: ThreadServer, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    bad = syncd_run({**env, "SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS": "soon"}, "run")
    assert bad.returncode == 2
    assert "SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS: Input should be a valid number" in bad.stderr
    unmigrated = syncd_run(env, "run")
    assert unmigrated.returncode == 2
    assert "syncd migrate" in unmigrated.stderr
    assert not (tmp_path / "mirror.db").exists()


def test_a_refused_key_names_where_it_came_from(
    tenant: ThreadServer, migrated_sqlite: Path, tmp_path: Path
) -> None:
    """SmartRecruiters refuses the key as `syncd run` starts: exit 3, one line ending with the
    fix for where the key came from (the variable, or the TOML file's table), never the key."""
    db = tmp_path / "mirror.db"
    sqlite_mirror(migrated_sqlite, db).dispose()
    env = daemon_env(push_env(tenant, f"sqlite:///{db}", write_config(tmp_path, {})))
    from_env = syncd_run({**env, "SYNCD_SMARTRECRUITERS__API_KEY": "wrong-env-k3y"}, "run")
    assert from_env.returncode == 3, from_env.stderr
    [line] = [x for x in from_env.stderr.splitlines() if x.startswith("syncd: ")]
    assert line.startswith("syncd: SmartRecruiters refused the credentials or their role: ")
    assert line.endswith("; fix SYNCD_SMARTRECRUITERS__API_KEY"), line
    key_file = tmp_path / "sr-key"
    key_file.write_text("wrong-file-k3y\n")
    config = tmp_path / "syncd.toml"
    config.write_text(f'[smartrecruiters]\napi_key_file = "{key_file}"\n' + config.read_text())
    env.pop("SYNCD_SMARTRECRUITERS__API_KEY")
    from_file = syncd_run(env, "run")
    assert from_file.returncode == 3, from_file.stderr
    [line] = [x for x in from_file.stderr.splitlines() if x.startswith("syncd: ")]
    assert line.endswith(
        "; fix api_key (or api_key_file) of [smartrecruiters] in SYNCD_CONFIG, "
        "or set SYNCD_SMARTRECRUITERS__API_KEY"
    ), line
    assert "k3y" not in from_env.stderr + from_file.stderr
    assert "Traceback" not in from_env.stderr + from_file.stderr


def _logged(d: DaemonProc, event: str, **fields: str) -> bool:
    return any(
        e["event"] == event and all(e.get(k) == v for k, v in fields.items()) for e in d.events()
    )


@pytest.mark.parametrize(
    ("point", "latency", "signalled_when"),
    [
        # During start-up, before daemon_started: its credential check slow to answer.
        ("start-up", "latency=2s", ("daemon_starting", {})),
        # At once: the first pull just scheduled (or its first pass just begun).
        ("started", "", ("daemon_started", {})),
        # Between two passes of the first pull: where a stop used to wait for the forced exit
        # (the pass cancelled twice left its write group's transaction open on SQLite).
        ("next pass", "", ("pass_started", {"resource": "audit"})),
        # Inside a pass whose pages are slow to come.
        ("mid pass", "latency=150ms", ("pass_started", {"resource": "candidates"})),
    ],
)
def test_sigterm_at_any_point_of_the_first_passes_exits_0_within_seconds(
    tenant: ThreadServer,
    db: Engine,
    db_url: str,
    tmp_path: Path,
    point: str,
    latency: str,
    signalled_when: tuple[str, dict[str, str]],
) -> None:
    """SIGTERM during the daemon's start-up or its first passes: exit 0 within a few seconds
    (far inside the 25 s bound), ``daemon_stopped`` logged and no ``daemon_started`` after
    ``stopping``, no run left ``running``; a pass it cut short is recorded ``interrupted``; a
    stop during start-up starts nothing (no run at all)."""
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    env["SYNCD_LOG_LEVEL"] = "info"
    control(tenant, "faults", {"spec": latency})
    d = start_daemon(env, tmp_path, wait=point != "start-up")
    event, fields = signalled_when
    try:
        wait_for(f"{event} {fields}", lambda: _logged(d, event, **fields), log=d.output)
        assert d.stop(timeout=10) == 0, d.output()[-3000:]
    finally:
        d.kill()
    events = [e["event"] for e in d.events()]
    assert "stopping" in events, d.output()[-3000:]
    after = events[events.index("stopping") :]
    assert "daemon_started" not in after, d.output()[-3000:]
    assert "daemon_stopped" in after, d.output()[-3000:]
    statuses = {(r, s) for r, _, s in runs(db_url, TENANT)}
    if point == "start-up":
        assert "daemon_started" not in events, d.output()[-3000:]
        assert statuses == set(), statuses
    assert {s for _, s in statuses} <= {"ok", "interrupted"}, statuses
    if point == "mid pass":
        assert ("candidates", "interrupted") in statuses, statuses
    if point == "next pass":
        assert ("jobs", "ok") in statuses, statuses


def _closed_after_one_line(proc: subprocess.Popen[str]) -> str:
    """Read one line of ``proc``'s output, then close the pipe's read end: ``| head -1``."""
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    return first


def test_a_daemon_whose_log_pipe_closed_keeps_syncing_and_stops_on_sigterm(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """``syncd run 2>&1 | head -1``: once its log's reader is gone the daemon drops the lines it
    cannot write (counted in ``syncd_log_lines_dropped_total``) and goes on: passes end ``ok``
    round after round, /readyz says so, and SIGTERM stops it with exit 0 and its lock free."""
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    env |= {"SYNCD_LOG_LEVEL": "info", "SYNCD_LOG_FORMAT": "json"}
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    cmd, fds = activated([sys.executable, "-m", "syncd", "run"], sock)
    with sock:
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            pass_fds=fds,
        )  # fmt: skip
    d = DaemonProc(proc, port, tmp_path / "no.log")
    try:
        assert _closed_after_one_line(proc).startswith("{")
        wait_for("lines dropped", lambda: d.metric("syncd_log_lines_dropped_total") > 0)
        wait_for("every resource synced", lambda: _all_passed(db_url))
        after = len(runs(db_url, TENANT))
        wait_for("a later round of passes", lambda: _all_passed(db_url, since=after))
        ready = d.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        d.kill()
    assert {s for _, _, s in runs(db_url, TENANT)} <= {"ok", "interrupted"}
    assert lock_holder(db_url, TENANT)[0] is False


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_one_shot_pass_whose_log_pipe_closed_is_interrupted_by_sigterm(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """``syncd backfill 2>&1 | head -1``, then SIGTERM: the passes went on without their log
    lines, and the stop is the usual one (exit 143, the pass ``interrupted``), not a pass
    ``failed`` for a broken pipe."""
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    env |= {"SYNCD_LOG_LEVEL": "info", "SYNCD_LOG_FORMAT": "json"}
    control(tenant, "faults", {"spec": "latency=150ms"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "backfill"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert _closed_after_one_line(proc)
        # A second pass started: its lines, at least, met the closed pipe.
        wait_for("a second pass running", lambda: len(runs(db_url, TENANT)) >= 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        control(tenant, "faults", {"spec": ""})
    statuses = [s for _, _, s in runs(db_url, TENANT)]
    assert "interrupted" in statuses, statuses
    assert set(statuses) <= {"ok", "interrupted"}, statuses


def test_a_signal_during_the_checks_before_start_up_stops_it_with_exit_0(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM received while ``syncd run`` checks its mirror and port (before its event loop's
    handlers): kept, and the daemon then logs ``stopping``, starts nothing (no
    ``daemon_started``, no run) and returns 0. In-process, the signal recorded as the early
    handler records it (the forced-exit timer it also starts would end pytest)."""
    import asyncio

    import structlog

    from syncd.cli_run import _EarlySignal, _preflight, _run_settings, serve

    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = _run_settings()
    sock = _preflight(settings)
    early = _EarlySignal(bound=25.0)
    early.signum = signal.SIGTERM
    with structlog.testing.capture_logs() as logs:
        assert asyncio.run(serve(settings, sock, early)) == 0
    events = [e["event"] for e in logs]
    assert events == ["daemon_starting", "stopping", "daemon_stopped"], events
    assert runs(db_url, TENANT) == []
    assert lock_holder(db_url, TENANT)[0] is False
