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
