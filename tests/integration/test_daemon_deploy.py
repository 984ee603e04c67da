"""The daemon's deployment: ``syncd run`` speaks systemd's notify protocol (READY=1 after the
scheduler started, WATCHDOG=1 from the event loop, STOPPING=1) to a real datagram socket; the
systemd unit passes ``systemd-analyze verify`` (where it exists) and has the options that
matter; the Kubernetes manifests parse (pyyaml) and carry the fields that matter, with the
same grace as the daemon's."""

from __future__ import annotations

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

from syncd.config import ScheduleSettings
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import ROOT, sandbox_options
from tests.integration.daemon_env import daemon_env, start_daemon
from tests.integration.push_env import push_env, syncd_run, write_config

DEPLOY = ROOT / "deploy"
GRACE = ScheduleSettings().stop_grace_seconds


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=10, jobs=3, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def test_run_notifies_systemd_ready_watchdog_and_stopping(
    tenant: ThreadServer, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    env = daemon_env(push_env(tenant, db_url, write_config(tmp_path, {})))
    assert syncd_run(env, "migrate").returncode == 0
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    d = start_daemon({**env, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}, tmp_path)
    try:
        got: list[str] = []
        deadline = time.monotonic() + 30
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
    assert float(svc["TimeoutStopSec"][0]) > GRACE
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


def test_kubernetes_deployment_service_pdb_and_backfill_job() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _docs("daemon.yaml")}
    dep = docs[("Deployment", "syncd")]
    assert dep["apiVersion"] == "apps/v1"
    spec = dep["spec"]
    assert spec["replicas"] == 2
    labels = spec["selector"]["matchLabels"]
    assert spec["template"]["metadata"]["labels"] == labels
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > GRACE
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
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["backfill"]
    # The Secret and ConfigMap they use are in syncd.yaml, with the migrate Job.
    base = {(d["kind"], d["metadata"]["name"]) for d in _docs("syncd.yaml")}
    assert {
        ("Secret", "syncd-credentials"),
        ("ConfigMap", "syncd-config"),
        ("Job", "syncd-migrate"),
    } <= base
