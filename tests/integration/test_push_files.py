"""The files sink: hires from the sandbox dropped as CSV + JSONL with a manifest (count,
checksums), to a local folder and over SFTP to a local asyncssh server started by the test
(host key checked through a known_hosts file); acknowledgement files read back as status;
onboarding status written back to the sandbox. ``syncd push --once`` as a real subprocess."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from sqlalchemy import Engine

from syncd.sandbox.runner import ThreadServer
from tests.integration.push_env import onboarding_writes, push_env, syncd_run, write_config
from tests.integration.test_mirror_sync import control, run_pass, settings_for
from tests.integration.test_push_webhook import candidates_to_hire, tenant

_ = tenant
USER, PASSWORD = "hr-drop", "drop-password-1"


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[dict[str, Any]]:
    root = tmp_path / "sftp-root"
    root.mkdir()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    key = asyncssh.generate_private_key("ssh-ed25519")

    async def start() -> Any:
        return await asyncssh.create_server(
            _Server,
            "127.0.0.1",
            0,
            server_host_keys=[key],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
        )

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    port = server.sockets[0].getsockname()[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {key.export_public_key().decode().strip()}\n")
    yield {"root": root, "port": port, "known_hosts": str(known)}
    server.close()
    asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def batches(folder: Path) -> list[dict[str, Any]]:
    """Every complete batch in a drop folder: manifest, CSV rows, JSONL lines, checked."""
    out = []
    for m in sorted(folder.glob("*.manifest.json")):
        manifest = json.loads(m.read_text())
        for name, digest in manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        base = m.name[: -len(".manifest.json")]
        rows = list(csv.DictReader(io.StringIO((folder / f"{base}.csv").read_text())))
        lines = [json.loads(x) for x in (folder / f"{base}.jsonl").read_text().splitlines()]
        assert manifest["count"] == len(rows) == len(lines)
        out.append({"manifest": manifest, "rows": rows, "lines": lines})
    assert not list(folder.glob(".tmp-*"))
    return out


def run_hires(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path, sink: dict[str, Any], n: int
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    env = push_env(tenant, db_url, write_config(tmp_path, {"drop": sink}))
    assert syncd_run(env, "push", "--once").returncode == 0
    apps = candidates_to_hire(tenant, n)
    for a in apps:
        control(tenant, "hire", {"candidateId": a["candidateId"], "jobId": a["jobId"]})
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    assert f"delivered {n}" in out.stdout, out.stdout
    return env, apps


def test_local_folder_with_acknowledgements(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    folder, acks = tmp_path / "drop", tmp_path / "acks"
    sink = {
        "type": "files",
        "directory": str(folder),
        "ack_directory": str(acks),
        "status_map": {"started": "ONBOARDING_SUCCESSFUL", "refused": "ONBOARDING_FAILED"},
        "status_policy": "on-activation",
    }
    env, apps = run_hires(tenant, db, db_url, tmp_path, sink, 3)
    (batch,) = batches(folder)
    keys = {f"sr-{a['id']}" for a in apps}
    assert {r["external_key"] for r in batch["rows"]} == keys
    assert {line["external_key"] for line in batch["lines"]} == keys
    emails = {tenant.sandbox.tenant.candidates[a["candidateId"]]["email"] for a in apps}
    assert {r["candidate.email"] for r in batch["rows"]} == emails
    for a in apps:
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD"]

    # The HRIS drops acknowledgements; the next push reads them back.
    acks.mkdir()
    first, second = apps[0], apps[1]
    (acks / "ack-1.jsonl").write_text(
        json.dumps({"external_key": f"sr-{first['id']}", "status": "started"})
        + "\n"
        + json.dumps({"external_key": f"sr-{second['id']}", "status": "refused"})
        + "\n"
    )
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0 and "status read 2" in out.stdout, out.stdout
    assert onboarding_writes(tenant, first["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]
    assert onboarding_writes(tenant, second["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_FAILED"]
    assert onboarding_writes(tenant, apps[2]["id"]) == ["READY_TO_ONBOARD"]
    assert len(batches(folder)) == 1  # nothing written again


def test_sftp_drop(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path, sftp: dict[str, Any]
) -> None:
    secret = tmp_path / "sftp-password"
    secret.write_text(PASSWORD)
    sink = {
        "type": "files",
        "directory": "incoming/hires",
        "sftp_host": "127.0.0.1",
        "sftp_port": sftp["port"],
        "sftp_user": USER,
        "known_hosts": sftp["known_hosts"],
        "secret_file": str(secret),
    }
    env, apps = run_hires(tenant, db, db_url, tmp_path, sink, 2)
    (batch,) = batches(sftp["root"] / "incoming" / "hires")
    assert {r["external_key"] for r in batch["rows"]} == {f"sr-{a['id']}" for a in apps}
    for a in apps:
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]
    checked = syncd_run(env, "sinks", "check", "drop")
    assert checked.returncode == 0, checked.stderr

    # A wrong password is refused at check time, before anything is sent.
    secret.write_text("wrong")
    refused = syncd_run(env, "sinks", "check", "drop")
    assert refused.returncode == 1
    assert "drop: directory: cannot be used (sftp: PermissionDenied" in refused.stderr
    assert "wrong" not in refused.stderr
