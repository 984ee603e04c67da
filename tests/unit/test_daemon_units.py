"""Units of the daemon: its settings, the API group label, what a webhook names, replay memory,
the notify protocol on a real datagram socket, readiness."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from syncd.config import ConfigError, load_settings
from syncd.daemon.activation import inherited_socket
from syncd.daemon.hooks_in import BadBody, SeenEvents, read_body, target_of
from syncd.daemon.http import is_ready
from syncd.daemon.metrics import PrometheusObserver, api_group
from syncd.daemon.notify import Notifier


def test_schedule_http_and_webhooks_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = load_settings()
    assert (
        s.schedule.poll_interval_seconds,
        s.schedule.push_interval_seconds,
        s.schedule.sweep_interval_hours,
        s.schedule.stop_grace_seconds,
    ) == (300.0, 30.0, 24.0, 30.0)
    assert (s.http.host, s.http.port) == ("127.0.0.1", 9108)
    monkeypatch.setenv("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", "60")
    monkeypatch.setenv("SYNCD_SCHEDULE__PUSH_INTERVAL_SECONDS", "5")
    monkeypatch.setenv("SYNCD_SCHEDULE__SWEEP_INTERVAL_HOURS", "6")
    monkeypatch.setenv("SYNCD_HTTP__PORT", "9200")
    monkeypatch.setenv("SYNCD_WEBHOOKS__SECRET_KEYS", "new-key, old-key")
    s = load_settings()
    assert s.schedule.poll_interval_seconds == 60.0
    assert s.schedule.push_interval_seconds == 5.0
    assert s.schedule.sweep_interval_hours == 6.0
    assert s.http.port == 9200
    assert [k.get_secret_value() for k in s.webhooks.secret_keys] == ["new-key", "old-key"]
    assert "new-key" not in repr(s)


def test_bad_daemon_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", "0")
    with pytest.raises(ConfigError, match="SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS: Input should"):
        load_settings()
    # Below a second (a job would only skip its own runs) or past 30 days: one line naming the
    # variable and the bound, under the settings' heading. A second is allowed (the daemon
    # tests poll every second).
    for variable, value, bound in [
        ("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", "0.001", "greater than or equal to 1"),
        ("SYNCD_SCHEDULE__PUSH_INTERVAL_SECONDS", "0.001", "greater than or equal to 1"),
        ("SYNCD_SCHEDULE__LEADER_CHECK_SECONDS", "0.5", "greater than or equal to 1"),
        ("SYNCD_SCHEDULE__SWEEP_INTERVAL_HOURS", "0.0001", "greater than or equal to 0.000277"),
        ("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", "2592001", "less than or equal to 2592000"),
        # Not finite (1e400 is inf as a float): said so, not compared with the bound.
        ("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", "1e400", None),
        ("SYNCD_SCHEDULE__PUSH_INTERVAL_SECONDS", "nan", None),
    ]:
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        lines = str(caught.value).splitlines()
        assert lines[0] == "invalid settings:" and len(lines) == 2
        if bound is None:
            assert lines[1] == (
                f"  {variable}: must be a finite number (not nan or inf) (got {value!r})"
            )
        else:
            assert lines[1].startswith(f"  {variable}: Input should be {bound}")
        monkeypatch.setenv(variable, "1" if "HOURS" not in variable else str(1 / 3600))
        assert load_settings().schedule is not None
        monkeypatch.delenv(variable)
    monkeypatch.delenv("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", raising=False)
    monkeypatch.setenv("SYNCD_SCHEDULE__POLL_INTERVAL", "5")
    with pytest.raises(ConfigError, match="did you mean SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS"):
        load_settings()
    monkeypatch.delenv("SYNCD_SCHEDULE__POLL_INTERVAL")
    monkeypatch.setenv("SYNCD_WEBHOOKS__CALLBACK_URL", "hooks.example.com")
    with pytest.raises(ConfigError, match="SYNCD_WEBHOOKS__CALLBACK_URL: must start with"):
        load_settings()


def test_api_group_is_the_first_path_segment_without_ids() -> None:
    assert api_group("/candidates/1f26/jobs/9a/onboardingStatus") == "candidates"
    assert api_group("/webhooks-api/v201907/subscriptions/abc") == "webhooks"
    assert api_group("/audit-api/v201910/audit-events") == "audit"
    assert api_group("/") == "root"


def test_observer_counts_429_as_throttled() -> None:
    obs = PrometheusObserver()
    obs.api_call("candidates", 200)
    obs.api_call("candidates", 429)
    text = obs.exposition().decode()
    assert 'syncd_api_calls_total{group="candidates",status="429"} 1.0' in text
    assert "syncd_api_throttled_total 1.0" in text


def test_limiter_waits_are_observed_by_group_without_ids() -> None:
    obs = PrometheusObserver()
    obs.limiter_wait("/candidates/1f26-secret-id/jobs/9a", 0.2)
    obs.limiter_wait("/candidates", 0.0)
    text = obs.exposition().decode()
    assert 'syncd_limiter_wait_seconds_count{group="candidates"} 2.0' in text
    assert 'syncd_limiter_wait_seconds_sum{group="candidates"} 0.2' in text
    assert 'syncd_limiter_wait_seconds_bucket{group="candidates",le="0.001"} 1.0' in text
    assert "1f26" not in text


def test_readiness_names_an_unreachable_database(tmp_path: Path) -> None:
    """/readyz's checks against a database that cannot be opened (a real engine on a SQLite
    file in a directory that does not exist): not ready, and the reason says so."""
    from types import SimpleNamespace

    from syncd.daemon.http import readiness
    from syncd.mirror.db import make_engine

    db = make_engine(f"sqlite:///{tmp_path / 'missing' / 'mirror.db'}")
    daemon = SimpleNamespace(role="leader", db=db, tenant="t")
    try:
        checks = readiness(daemon)
    finally:
        db.dispose()
    assert checks["database"].startswith("unreachable (")
    assert "migrations" not in checks and not is_ready(checks)


def test_what_a_callback_names() -> None:
    assert target_of("candidate.updated", {"id": "c1"}) == ("candidates", "c1")
    assert target_of(
        "application.status.updated",
        {"job_id": "j1", "candidate_id": "c1", "application_id": "a1"},
    ) == ("applications", "c1/j1")
    assert target_of("offer.updated", {"job_id": "j1", "candidate_id": "c1", "offer_id": "o1"}) == (
        "offers",
        "c1/j1/o1",
    )
    assert target_of("job.created", {"id": "j1"}) == ("jobs", "j1")
    assert target_of("position.created", {"job_id": "j1", "position_id": "p1"}) == (
        "positions",
        "j1",
    )
    assert target_of("job.ad.updated", {"job_id": "j1", "job_ad_id": "x"}) == ("jobs", "j1")
    assert target_of("job.approval.created", {"job_id": "j1", "approval_id": "a"}) == (
        "job_approvals",
        "j1",
    )
    assert target_of("offer.approval.approved", {"offer_id": "o1", "approval_id": "a"}) == (
        "offer_approvals",
        "o1",
    )
    assert target_of("review.created", {"id": "r"}) is None
    assert target_of("candidate.updated", {"id": 5}) is None  # not the schema's string id
    assert target_of("candidate.updated", ["c1"]) is None


@pytest.mark.parametrize(
    ("event", "body", "problem"),
    [
        ("candidate.updated", b"{not json", "the body is not JSON"),
        ("candidate.updated", b"", "the body is not JSON"),
        ("candidate.updated", b"[1,2,3]", "the body is an array, not a JSON object"),
        ("candidate.updated", b'""', "the body is an empty string, not a JSON object"),
        ("candidate.updated", b'{"id": 5}', "the body's id is a number, not a non-empty string"),
        ("candidate.updated", b'{"id": null}', "the body's id is null, not a non-empty string"),
        ("candidate.updated", b'{"id": "\xff"}', "the body is not UTF-8"),
        (
            "application.status.updated",
            b'{"candidate_id": "c1", "application_id": "a1"}',
            "the body has no job_id (a non-empty string)",
        ),
        (
            "offer.created",
            b'{"job_id": "j1", "candidate_id": "c1"}',
            "the body has no offer_id (a non-empty string)",
        ),
        ("job.ad.updated", b'{"job_ad_id": "x"}', "the body has no id (a non-empty string)"),
        (
            "job.approval.created",
            b'{"approval_id": "a"}',
            "the body has no job_id (a non-empty string)",
        ),
    ],
)
def test_what_a_malformed_callback_body_is_refused_for(
    event: str, body: bytes, problem: str
) -> None:
    with pytest.raises(BadBody) as refused:
        read_body(event, body)
    assert str(refused.value) == problem


def test_a_callback_body_syncd_reads_or_ignores() -> None:
    body = b'{"job_id": "j1", "candidate_id": "c1", "application_id": "a1"}'
    assert read_body("application.status.updated", body) == ("applications", "c1/j1")
    # application_id is the schema's too, but syncd does not read by it.
    assert read_body("application.created", b'{"job_id": "j1", "candidate_id": "c1"}') == (
        "applications",
        "c1/j1",
    )
    assert read_body("job.ad.updated", b'{"job_id": "j1", "job_ad_id": "x"}') == ("jobs", "j1")
    # Events syncd does not mirror: the body is not read, whatever it holds.
    for body in (b"{not json", b"\xff", b"[1]"):
        assert read_body("review.created", body) is None


def test_seen_events_forget_after_their_window() -> None:
    seen = SeenEvents(keep=0.0)
    seen.add("e1")
    assert not seen.seen("e1")  # older than the window: a replay fails the timestamp check
    seen = SeenEvents(keep=600)
    seen.add("e1")
    assert seen.seen("e1") and not seen.seen("e2")


@pytest.mark.parametrize("abstract", [False, True])
def test_notifier_sends_datagrams(tmp_path: Path, abstract: bool) -> None:
    name = f"@syncd-test-{uuid.uuid4().hex}" if abstract else str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:] if abstract else name)
    sock.settimeout(5)
    try:
        n = Notifier({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "20000000"})
        assert n.enabled and n.watchdog_seconds == 20.0
        assert n.ready() and n.watchdog() and n.stopping()
        got = [sock.recv(1024).decode() for _ in range(3)]
        assert got[0].startswith("READY=1") and got[1:] == ["WATCHDOG=1", "STOPPING=1"]
    finally:
        sock.close()
    off = Notifier({})
    assert not off.enabled and off.watchdog_seconds is None and not off.ready()
    other = Notifier({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert other.watchdog_seconds is None  # the watchdog is another process's


def test_ready_needs_every_check() -> None:
    good = {"role": "leader", "database": "ok", "migrations": "ok", "passes": "ok"}
    assert is_ready(good)
    assert is_ready({**good, "role": "standby"})
    assert not is_ready({**good, "role": "starting"})
    assert not is_ready({**good, "migrations": "schema at 0004, syncd needs 0005"})
    assert not is_ready({**good, "passes": {"last ok older than 3x interval": {"jobs": "never"}}})
    assert not is_ready({"role": "leader", "database": "unreachable (OperationalError)"})


def test_jobs_run_one_instance_each_coalesce_misfires_at_the_set_intervals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's jobs as ``syncd run`` adds them (not started: nothing runs)."""
    from syncd.daemon.service import Daemon
    from syncd.mirror.db import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    eng = make_engine(url)
    migrate(eng)
    eng.dispose()
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY", "unit-key")
    monkeypatch.setenv("SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS", "120")
    daemon = Daemon(load_settings())
    try:
        daemon.sink_names = ["hr"]
        daemon._add_jobs()
        jobs = {j.id: j for j in daemon.scheduler.get_jobs()}
        assert set(jobs) == {"pull", "sweep", "push"}
        for job in jobs.values():
            assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)
        seconds = {k: j.trigger.interval.total_seconds() for k, j in jobs.items()}
        assert seconds == {"pull": 120.0, "push": 30.0, "sweep": 24 * 3600.0}
    finally:
        daemon.db.dispose()


def test_healthz_is_503_when_the_event_loop_stopped_beating() -> None:
    import asyncio
    import time
    from types import SimpleNamespace

    import httpx

    from syncd.daemon.http import HEALTH_STALE_SECONDS, create_app

    daemon = SimpleNamespace(loop_beat=time.monotonic())
    app = create_app(daemon, SimpleNamespace(handle=None))  # type: ignore[arg-type]

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://syncd") as client:
            return await client.get("/healthz")

    assert asyncio.run(get()).status_code == 200
    daemon.loop_beat -= HEALTH_STALE_SECONDS + 1
    r = asyncio.run(get())
    assert r.status_code == 503 and r.json()["status"] == "stalled"


def test_socket_activation_is_read_only_for_this_process() -> None:
    import os

    # Variables meant for another process (a parent's LISTEN_PID): no socket, and unset.
    env = {"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "http", "PATH": "/bin"}
    assert inherited_socket(env) is None
    assert env == {"PATH": "/bin"}
    assert inherited_socket({}) is None
    two = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2"}
    with pytest.raises(ConfigError, match="LISTEN_FDS: syncd run serves on one socket, 2 were"):
        inherited_socket(two)
    assert two == {}
