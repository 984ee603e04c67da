"""Helpers of the failure tests: ``syncd`` as a real subprocess, the personal data and secrets
that must never appear in its output, and a user without root's powers for permission tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.cli_errors import EXIT_CODES
from syncd.sandbox.runner import ThreadServer

SECRET_KEY = "s3cr3t-key-do-not-print"
DB_PASSWORD = "pw-do-not-print"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The last line on stderr: the one line the error boundary prints."""
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""

    def text(self) -> str:
        return self.out + self.err


def base_env(**values: str | None) -> dict[str, str]:
    """The process environment without any SYNCD_ setting of the test runner, plus ``values``
    (a None value leaves the variable out)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SYNCD_")}
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def syncd(env: dict[str, str], *args: str, timeout: float = 300, as_user: bool = False) -> Result:
    """``syncd ARGS`` as a subprocess; ``as_user``: as a user file permissions apply to."""
    python = sys.executable
    extra: dict[str, Any] = {}
    if as_user:
        python, env, extra = unprivileged(env)
    proc = subprocess.run(
        [python, "-m", "syncd", *args],
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
        **extra,
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def assert_clean(r: Result, *, forbidden: Sequence[str] = ()) -> None:
    """No traceback, a documented exit code, and nothing forbidden in stdout or stderr."""
    text = r.text()
    assert "Traceback" not in text, text
    assert r.code in EXIT_CODES, (r.code, text)
    for word in [SECRET_KEY, DB_PASSWORD, "[parameters:", "[SQL:", *forbidden]:
        assert word not in text, (word, text)


def personal_data(srv: ThreadServer) -> list[str]:
    """Names and emails of the sandbox's candidates: none may appear in any output."""
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", timeout=60).json()
    out = []
    for c in snap["candidates"].values():
        out.append(f"{c['firstName']} {c['lastName']}")
        out.append(f'"{c["lastName"]}"')
        out.append(f"'{c['lastName']}'")
        if c.get("email"):
            out.append(c["email"])
    return out


def unprivileged(env: dict[str, str]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(python, environment, subprocess arguments) to run as a user file permissions apply to:
    nobody when the tests run as root (root writes a read-only file). That user may not reach
    this interpreter (e.g. under /root): a system Python of the same version runs the same
    installed packages through PYTHONPATH."""
    if os.geteuid() != 0:
        return sys.executable, env, {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = next(
        (p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}") if os.path.exists(p)),
        None,
    )
    if python is None:
        pytest.skip(f"running as root and no {version} that an unprivileged user can run")
    site = next(p for p in sys.path if p.endswith("site-packages") and sys.prefix in p)
    root = str(Path(__file__).resolve().parents[2])
    env = {**env, "PYTHONPATH": f"{root}:{site}", "PYTHONDONTWRITEBYTECODE": "1"}
    return python, env, {"user": 65534, "group": 65534, "extra_groups": []}


def shared_tmp() -> Path:
    """A folder the unprivileged user can enter (pytest's tmp_path may be private to root)."""
    path = Path(tempfile.mkdtemp(prefix="syncd-ro-"))
    path.chmod(0o755)
    return path


ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
