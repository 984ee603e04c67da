"""The daemon's deployment: ``syncd run`` speaks systemd's notify protocol (READY=1 after the
scheduler started, WATCHDOG=1 from the event loop, STOPPING=1) to a real datagram socket; the
systemd unit passes ``systemd-analyze verify`` (where it exists) and has the options that
matter; the Kubernetes manifests parse (pyyaml) and carry the fields that matter, with the
same grace as the daemon's."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.cli_errors import STOP_GRACE_SECONDS
from syncd.cli_run import stop_bound
from syncd.config import ScheduleSettings
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import ROOT, sandbox_options, sqlite_mirror
from tests.integration.daemon_env import daemon_env, start_daemon
from tests.integration.push_env import push_env, write_config

DEPLOY = ROOT / "deploy"
GRACE = ScheduleSettings().stop_grace_seconds


def test_the_daemon_ends_inside_the_grace_and_a_pass_within_ten_seconds() -> None:
    """The shipped grace (30 s: TimeoutStopSec, terminationGracePeriodSeconds, the setting's
    default, read by the tests below) is the supervisor's SIGKILL; the daemon's own forced exit
    comes 5 s before it, so the two never race. A one-shot pass's forced exit is under the 10 s
    the docs promise (deploy/README.md, docs/daemon.md, docs/mirror.md)."""
    assert GRACE == 30.0
    assert stop_bound(GRACE) == 25.0
    assert GRACE - stop_bound(GRACE) >= 5.0
    assert 0 < stop_bound(3.0) < 3.0  # a short grace keeps a margin too
    assert STOP_GRACE_SECONDS < 10.0
    for doc in ("deploy/README.md", "docs/daemon.md"):
        text = " ".join((ROOT / doc).read_text().split())
        assert "exits **0** within 30 s" in text, doc
        one_shot = ("143** within 10 s", "143** (SIGTERM) or **130** (SIGINT), within 10 s")
        assert any(s in text for s in one_shot), doc


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=10, jobs=3, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def test_run_notifies_systemd_ready_watchdog_and_stopping(
    tenant: ThreadServer, migrated_sqlite: Path, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    sqlite_mirror(migrated_sqlite, tmp_path / "mirror.db").dispose()
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(60)
    d = start_daemon({**env, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}, tmp_path)
    try:
        got: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            any(m.startswith("READY=1") for m in got) and got.count("WATCHDOG=1") >= 2
        ):
            got.append(sock.recv(4096).decode())
        assert any(m.startswith("READY=1") for m in got), got
        assert got.count("WATCHDOG=1") >= 2, got
        assert d.stop() == 0
        rest = []
        sock.settimeout(5)
        while "STOPPING=1" not in rest:
            rest.append(sock.recv(4096).decode())
    finally:
        d.kill()
        sock.close()


def _unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    section = ""
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = {}
            continue
        key, _, value = line.partition("=")
        out[section].setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_unit_is_notify_with_watchdog_hardening_and_grace(tmp_path: Path) -> None:
    unit = _unit("syncd.service")
    svc = unit["Service"]
    assert svc["Type"] == ["notify"]
    assert svc["ExecStart"] == ["/opt/syncd/.venv/bin/syncd run"]
    assert svc["ExecStartPre"] == ["/opt/syncd/.venv/bin/syncd migrate"]
    assert int(svc["WatchdogSec"][0]) >= 10
    # The daemon's whole stop ends a margin inside its grace: systemd waits that long, no less.
    assert float(svc["TimeoutStopSec"][0]) == GRACE
    assert stop_bound(GRACE) <= float(svc["TimeoutStopSec"][0]) - 5
    assert svc["User"] == ["syncd"] and svc["StateDirectory"] == ["syncd"]
    assert svc["EnvironmentFile"] == ["/etc/syncd/syncd.env"]
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "RestrictSUIDSGID"):
        assert svc[option] == ["yes"], option
    assert svc["ProtectSystem"] == ["strict"]
    assert set(svc["RestartPreventExitStatus"][0].split()) == {"2", "3", "5"}
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    text = (DEPLOY / "systemd" / "syncd.service").read_text()
    assert "systemd-sysusers" in text and "useradd --system" in text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the fields above are checked; verify needs systemd's tool
    # verify checks that ExecStart exists: point it at this checkout's syncd.
    here = Path(sys.executable).parent / "syncd"
    copy = tmp_path / "syncd.service"
    copy.write_text(text.replace("/opt/syncd/.venv/bin/syncd", str(here)))
    out = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_oneshot_service_and_timer_stay_and_verify(tmp_path: Path) -> None:
    """The scheduled form beside the daemon: a oneshot pass started by a timer."""
    svc = _unit("syncd-sync.service")["Service"]
    assert svc["Type"] == ["oneshot"]
    assert svc["ExecStart"] == ["/opt/syncd/.venv/bin/syncd sync --once"]
    assert svc["User"] == ["syncd"] and svc["StateDirectory"] == ["syncd"]
    assert svc["EnvironmentFile"] == ["/etc/syncd/syncd.env"]
    timer = _unit("syncd-sync.timer")
    assert timer["Timer"]["OnUnitInactiveSec"] == ["5min"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the fields above are checked; verify needs systemd's tool
    here = str(Path(sys.executable).parent / "syncd")
    for name in ("syncd-sync.service", "syncd-sync.timer"):  # the timer finds its service here
        text = (DEPLOY / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/syncd/.venv/bin/syncd", here))
    out = subprocess.run(
        [
            analyze,
            "verify",
            str(tmp_path / "syncd-sync.timer"),
            str(tmp_path / "syncd-sync.service"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_sysusers_file_creates_the_syncd_user(tmp_path: Path) -> None:
    """The install step ``systemd-sysusers`` with the shipped file, on an empty root: it creates
    the system user and group the units run as (a line it cannot parse is skipped silently,
    with a warning only)."""
    tool = shutil.which("systemd-sysusers")
    line = (DEPLOY / "systemd" / "syncd.sysusers").read_text().splitlines()[-1]
    assert line.startswith("u syncd - ") and line.endswith(" /var/lib/syncd /usr/sbin/nologin")
    if tool is None:
        return  # the line is checked; creating the user needs systemd's tool
    conf = tmp_path / "etc" / "sysusers.d"
    conf.mkdir(parents=True)
    shutil.copy(DEPLOY / "systemd" / "syncd.sysusers", conf / "syncd.conf")
    out = subprocess.run([tool, f"--root={tmp_path}"], capture_output=True, text=True)
    assert out.returncode == 0 and "not a valid" not in out.stderr, out.stderr
    users = [u.split(":") for u in (tmp_path / "etc" / "passwd").read_text().splitlines()]
    (user,) = [u for u in users if u[0] == "syncd"]
    assert (user[5], user[6]) == ("/var/lib/syncd", "/usr/sbin/nologin")
    assert any(g.startswith("syncd:") for g in (tmp_path / "etc" / "group").read_text().split())


def test_dockerfile_runs_as_non_root_with_a_writable_data_directory() -> None:
    """Read instruction by instruction (no Docker daemon needed): what it copies exists, the
    data directory is made and given to the image's user before ``USER`` drops root, and the
    manifests run as that user's uid."""
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    steps = [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in lines]
    for op, arg in steps:
        if op == "COPY":
            for src in arg.split()[:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
    ops = [op for op, _ in steps]
    user_at = ops.index("USER")
    assert steps[user_at][1] == "syncd" and ops.count("USER") == 1
    runs_before = " ".join(arg for op, arg in steps[:user_at] if op == "RUN")
    uid = re.search(r"useradd .*--uid (\d+) syncd", runs_before)
    assert uid is not None
    assert "mkdir -p /data" in runs_before and "chown syncd:syncd /data" in runs_before
    assert ("VOLUME", "/data") in steps and ("WORKDIR", "/data") in steps[user_at:]
    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "SYNCD_DATABASE_URL=sqlite:////data/syncd.db" in env
    pod = next(d for d in _docs("daemon.yaml") if d["kind"] == "Deployment")["spec"]["template"]
    assert pod["spec"]["securityContext"]["runAsUser"] == int(uid.group(1))


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if d]


K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests are meant for


@pytest.mark.parametrize("name", ["daemon.yaml", "syncd.yaml"])
def test_kubernetes_manifests_match_the_api_schemas(name: str) -> None:
    """Every object against the Kubernetes API's published JSON schemas, strict (an unknown or
    misspelt field fails)."""
    import kubernetes_validate

    docs = _docs(name)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_daemon_reads_a_syncd_toml_whose_sink_example_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daemon.yaml's ConfigMap holds a syncd.toml, mounted where SYNCD_CONFIG points in the
    Deployment and the backfill Job; the file loads as shipped, and its webhook sink example,
    uncommented with a whsec secret at its secret_file, configures a webhook sink."""
    import base64

    from syncd.config import load_settings
    from syncd.delivery.sinks import configure

    docs = {(d["kind"], d["metadata"]["name"]): d for d in _docs("daemon.yaml")}
    text = docs[("ConfigMap", "syncd-file")]["data"]["syncd.toml"]
    pod = docs[("Deployment", "syncd")]["spec"]["template"]["spec"]
    job = docs[("Job", "syncd-backfill")]["spec"]["template"]["spec"]
    for spec in (pod, job):
        (c,) = spec["containers"]
        env = {e["name"]: e["value"] for e in c["env"]}
        folder, _, key = env["SYNCD_CONFIG"].rpartition("/")
        assert key == "syncd.toml"
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes[mounts[folder]]["configMap"]["name"] == "syncd-file"
    shipped = tmp_path / "syncd.toml"
    shipped.write_text(text)
    monkeypatch.setenv("SYNCD_CONFIG", str(shipped))
    s = load_settings()
    assert s.schedule.poll_interval_seconds == 300.0 and s.sinks == {}
    secret = tmp_path / "hr-webhook-secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 24).decode())
    example = re.sub(r"(?m)^# (\[sinks\.|[a-z_]+ = )", r"\1", text)
    example = example.replace("/var/run/secrets/syncd/hr-webhook-secret", str(secret))
    assert "[sinks.hr]" in example.splitlines()
    shipped.write_text(example)
    (hr,) = configure(load_settings().sinks)
    assert hr.name == "hr" and type(hr.sink).__name__ == "WebhookSink"


def base_config() -> dict[str, str]:
    """The ConfigMap of syncd.yaml that the Deployment and the Jobs read."""
    base = {(d["kind"], d["metadata"]["name"]): d for d in _docs("syncd.yaml")}
    return dict(base[("ConfigMap", "syncd-config")]["data"])


def test_kubernetes_deployment_service_pdb_and_backfill_job() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _docs("daemon.yaml")}
    dep = docs[("Deployment", "syncd")]
    assert dep["apiVersion"] == "apps/v1"
    spec = dep["spec"]
    assert spec["replicas"] == 2
    labels = spec["selector"]["matchLabels"]
    assert spec["template"]["metadata"]["labels"] == labels
    pod = spec["template"]["spec"]
    # The daemon's whole stop fits in its grace: the same figure here (issue: "the same figure
    # in the Kubernetes manifest").
    assert pod["terminationGracePeriodSeconds"] == GRACE
    assert stop_bound(GRACE) <= pod["terminationGracePeriodSeconds"] - 5
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    assert c["args"] == ["run"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["SYNCD_HTTP__HOST"] == "0.0.0.0"
    assert float(env["SYNCD_SCHEDULE__STOP_GRACE_SECONDS"]) == GRACE
    port = int(env["SYNCD_HTTP__PORT"])
    assert c["ports"] == [{"name": "http", "containerPort": port}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["envFrom"] == [{"configMapRef": {"name": "syncd-config"}}]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/var/run/secrets/syncd" in mounts and "/data" in mounts
    svc = docs[("Service", "syncd")]
    assert svc["spec"]["selector"] == labels
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    pdb = docs[("PodDisruptionBudget", "syncd")]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["selector"]["matchLabels"] == labels
    job = docs[("Job", "syncd-backfill")]
    (backfill,) = job["spec"]["template"]["spec"]["containers"]
    # No SYNCD_TENANT: with several [tenants] it backfills every tenant in turn (the test of
    # that: test_daemon_tenants.py, test_backfill_sync_and_status_act_on_every_tenant_in_turn).
    assert backfill["args"] == ["backfill"]
    assert "SYNCD_TENANT" not in {e["name"] for e in backfill.get("env", [])}
    assert "SYNCD_TENANT" not in base_config()
    # Bad settings (2) and a refused credential (3) end the Job at once; a retry would copy the
    # tenants already done again for nothing. Other failures retry (each run resumes).
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["podFailurePolicy"]["rules"] == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "backfill", "operator": "In", "values": [2, 3]},
        }
    ]
    # The Secret and ConfigMap they use are in syncd.yaml, with the migrate Job.
    base = {(d["kind"], d["metadata"]["name"]): d for d in _docs("syncd.yaml")}
    assert {
        ("Secret", "syncd-credentials"),
        ("ConfigMap", "syncd-config"),
        ("Job", "syncd-migrate"),
    } <= set(base)
    migrate = base[("Job", "syncd-migrate")]["spec"]["template"]["spec"]
    assert migrate["containers"][0]["args"] == ["migrate"]
    assert migrate["securityContext"]["runAsNonRoot"] is True
    # Every *_FILE setting of the ConfigMap names a key of the Secret, under the path where the
    # Deployment and both Jobs mount it.
    secret = base[("Secret", "syncd-credentials")]["stringData"]
    files = {
        k: v for k, v in base[("ConfigMap", "syncd-config")]["data"].items() if k.endswith("_FILE")
    }
    assert files
    for name, path in files.items():
        folder, _, key = path.rpartition("/")
        assert key in secret, name
        for spec in (pod, job["spec"]["template"]["spec"], migrate):
            mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert volumes[mounts[folder]]["secret"]["secretName"] == "syncd-credentials"
