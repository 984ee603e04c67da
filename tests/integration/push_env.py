"""Shared pieces of the push tests: a webhook sink configured in a TOML file, ``syncd push`` as a
real subprocess, and the sandbox's truth about onboarding-status writes."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from syncd.sandbox.runner import ThreadServer
from tests.conftest import TOKEN
from tests.integration.test_mirror_sync import TENANT

SECRET = "whsec_" + base64.b64encode(b"push-test-secret-0123456789abcdef").decode()


def write_config(tmp: Path, sinks: dict[str, dict[str, Any]]) -> Path:
    secret = tmp / "webhook-secret"
    secret.write_text(SECRET + "\n")
    lines = []
    for name, table in sinks.items():
        lines.append(f"[sinks.{name}]")
        for k, v in table.items():
            if v == "SECRET_FILE":
                v = str(secret)
            if isinstance(v, dict):
                inner = ", ".join(f'{ik} = "{iv}"' for ik, iv in v.items())
                lines.append(f"{k} = {{ {inner} }}")
            elif isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, int | float):
                lines.append(f"{k} = {v}")
            else:
                lines.append(f'{k} = "{v}"')
    path = tmp / "syncd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def push_env(srv: ThreadServer, db_url: str, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SYNCD_CONFIG": str(config),
        "SYNCD_DATABASE_URL": db_url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
        "SYNCD_LOG_LEVEL": "warning",
    }


def syncd_run(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def onboarding_writes(srv: ThreadServer, application_id: str) -> list[str]:
    """The sandbox's own record of onboarding-status writes to one application, in order."""
    return [
        e["context"]["onboardingStatus"]
        for e in srv.sandbox.tenant.audit
        if e["eventName"] == "ONBOARDING_STATUS_UPDATED" and e["entityId"] == application_id
    ]


def open_deliveries(db_url: str) -> int:
    """Deliveries still ``pending`` or ``in_flight`` (read from the mirror)."""
    from sqlalchemy import text

    from syncd.mirror.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in_flight')")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def push_until_settled(
    env: dict[str, str], db_url: str, *, timeout: float = 120
) -> list[subprocess.CompletedProcess[str]]:
    """``syncd push --once`` again and again until no delivery is open. A pass makes at most one
    attempt per delivery and schedules a failed one for a later pass (docs/push.md, "Retries"),
    so a burst of failures takes several passes; each must exit 0. Fails at the deadline."""
    import time

    deadline = time.monotonic() + timeout
    outs: list[subprocess.CompletedProcess[str]] = []
    while True:
        out = syncd_run(env, "push", "--once")
        assert out.returncode == 0, out.stdout + out.stderr
        outs.append(out)
        if open_deliveries(db_url) == 0:
            return outs
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still open after {timeout}s: {out.stdout}")


def pass_totals(outs: list[subprocess.CompletedProcess[str]], sink: str = "hr") -> dict[str, int]:
    """The counts of ``sink``'s report lines (``delivered 7, rejected 1, ...``) summed over the
    passes."""
    import re

    total: dict[str, int] = {}
    for out in outs:
        for line in out.stdout.splitlines():
            if line.startswith(f"{sink}: "):
                for name, n in re.findall(r"([a-z][a-z ]*?) (\d+)", line.split(": ", 1)[1]):
                    total[name.strip()] = total.get(name.strip(), 0) + int(n)
    return total
