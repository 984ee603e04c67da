"""``syncd api`` against the sandbox, in process through click's runner (real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from syncd.cli import main
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import CLIENT_ID, CLIENT_SECRET, TOKEN, sandbox_options


@pytest.fixture(scope="module")
def srv() -> Iterator[ThreadServer]:
    server = serve_in_thread(sandbox_options(limits=LimitConfig(enabled=False)))
    yield server
    server.stop()


def cli(srv: ThreadServer, *args: str, **env: str | None) -> Result:
    base: dict[str, str | None] = {
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__CLIENT_ID": None,
        "SYNCD_SMARTRECRUITERS__CLIENT_SECRET": None,
        "SYNCD_CONFIG": None,
    }
    base.update(env)
    return CliRunner().invoke(main, ["api", *args], env=base, catch_exceptions=False)


def snapshot(srv: ThreadServer, what: str) -> dict[str, Any]:
    return httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": what}).json()[what]


def test_get_prints_json(srv: ThreadServer) -> None:
    r = cli(srv, "get", "/candidates", "--param", "limit=2")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert len(body["content"]) == 2 and body["nextPageId"]


def test_get_all_follows_pages_and_repeats_params(srv: ThreadServer) -> None:
    r = cli(srv, "get", "/jobs", "-p", "sort=job_id", "-p", "limit=3", "--all")
    assert r.exit_code == 0, r.output
    assert {j["id"] for j in json.loads(r.stdout)} == set(snapshot(srv, "jobs"))
    # Without sort=job_id /jobs is offset-paged (no nextPageId): --all pages by offset/limit.
    r = cli(srv, "get", "/jobs", "-p", "limit=3", "--all")
    assert r.exit_code == 0, r.output
    jobs = [j["id"] for j in json.loads(r.stdout)]
    assert len(jobs) == len(set(jobs)) and set(jobs) == set(snapshot(srv, "jobs"))
    assert len(jobs) > 3
    r = cli(srv, "get", "/candidates", "-p", "status=HIRED", "-p", "status=OFFERED", "--all")
    want = {
        a["candidateId"]
        for a in snapshot(srv, "applications").values()
        if a["status"] in ("HIRED", "OFFERED")
    }
    assert {c["id"] for c in json.loads(r.stdout)} == want


def test_put_with_json_body_changes_the_tenant(srv: ThreadServer) -> None:
    app = next(a for a in snapshot(srv, "applications").values() if a["status"] == "HIRED")
    path = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}/onboardingStatus"
    r = cli(srv, "put", path, "--json", '{"onboardingStatus": "ONBOARDING_SUCCESSFUL"}')
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # 204: nothing to print
    assert snapshot(srv, "applications")[app["id"]]["onboardingStatus"] == "ONBOARDING_SUCCESSFUL"


def test_api_errors_exit_1_with_code(srv: ThreadServer) -> None:
    r = cli(srv, "get", "/candidates/nope")
    assert r.exit_code == 1
    assert "GET /candidates/nope -> 404 [CANDIDATE_NOT_FOUND]" in r.stderr
    r = cli(srv, "put", "/candidates/x/jobs/y/status", "--json", '{"status": "HIRED"}')
    assert r.exit_code == 1 and "404" in r.stderr


def test_bad_input_is_named(srv: ThreadServer) -> None:
    r = cli(srv, "post", "/jobs", "--json", "{not json")
    assert r.exit_code == 2 and "--json: not valid JSON" in r.stderr
    r = cli(srv, "get", "/jobs", "--param", "limit")
    assert r.exit_code == 2 and "expected NAME=VALUE" in r.stderr


def test_check_ok_with_api_key_and_oauth(srv: ThreadServer) -> None:
    r = cli(srv, "check")
    assert r.exit_code == 0, r.output
    assert "ok       candidates_read" in r.stdout and "credential OK" in r.stdout
    r = cli(
        srv,
        "check",
        SYNCD_SMARTRECRUITERS__API_KEY=None,
        SYNCD_SMARTRECRUITERS__CLIENT_ID=CLIENT_ID,
        SYNCD_SMARTRECRUITERS__CLIENT_SECRET=CLIENT_SECRET,
    )
    assert r.exit_code == 0, r.output
    assert f"OAuth client '{CLIENT_ID}'" in r.stdout and CLIENT_SECRET not in r.output
    # Both credentials at once: refused, not one of them silently chosen.
    r = cli(
        srv,
        "check",
        SYNCD_SMARTRECRUITERS__CLIENT_ID=CLIENT_ID,
        SYNCD_SMARTRECRUITERS__CLIENT_SECRET=CLIENT_SECRET,
    )
    assert r.exit_code == 2 and "api_key and client_id/client_secret are both set" in r.stderr


def test_check_names_refused_credential_and_missing_scope(srv: ThreadServer) -> None:
    # A refused credential or a missing scope exits 3, like every command (issue 13, row 6).
    r = cli(srv, "check", SYNCD_SMARTRECRUITERS__API_KEY="wrong-key-xyz")
    assert r.exit_code == 3
    assert "API key sha256:" in r.stderr and "was refused (Invalid API key)" in r.stderr
    assert "wrong-key-xyz" not in r.output
    httpx.post(
        f"{srv.base_url}/_sandbox/credentials",
        json={"apiKey": "cli-limited", "scopes": ["jobs_read", "candidates_read"]},
    ).raise_for_status()
    r = cli(srv, "check", SYNCD_SMARTRECRUITERS__API_KEY="cli-limited")
    assert r.exit_code == 3
    assert "ok       jobs_read" in r.stdout
    assert "MISSING  webhooks_read" in r.stdout  # a scope the sandbox enforces
    assert "lacks the scope(s)" in r.stderr and "webhooks_read" in r.stderr
    r = cli(
        srv,
        "check",
        SYNCD_SMARTRECRUITERS__API_KEY=None,
        SYNCD_SMARTRECRUITERS__CLIENT_ID=CLIENT_ID,
        SYNCD_SMARTRECRUITERS__CLIENT_SECRET="not-the-secret",
    )
    assert r.exit_code == 3 and f"OAuth client '{CLIENT_ID}'" in r.stderr
    assert "not-the-secret" not in r.output


def test_config_errors_exit_2(srv: ThreadServer) -> None:
    r = cli(srv, "check", SYNCD_SMARTRECRUITERS__TIMEOUT="-1")
    assert r.exit_code == 2 and "SYNCD_SMARTRECRUITERS__TIMEOUT" in r.stderr
    r = cli(srv, "get", "/jobs", SYNCD_SMARTRECRUITERS__API_KEY=None)
    assert r.exit_code == 2 and "no SmartRecruiters credentials" in r.stderr


def test_the_api_key_from_a_toml_api_key_file(srv: ThreadServer, tmp_path: Path) -> None:
    """``[smartrecruiters] api_key_file`` in the SYNCD_CONFIG file gives the key the sandbox
    takes (the file's BOM and newline dropped); SYNCD_SMARTRECRUITERS__API_KEY wins over it; a
    file that cannot be read stops the command with exit 2 and one line naming the key."""
    key = tmp_path / "sr-key"
    key.write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n")
    config = tmp_path / "syncd.toml"
    config.write_text(f'[smartrecruiters]\napi_key_file = "{key}"\n')
    r = cli(srv, "check", SYNCD_CONFIG=str(config), SYNCD_SMARTRECRUITERS__API_KEY=None)
    assert r.exit_code == 0, r.output
    assert "credential OK" in r.stdout
    # The environment's key wins: here a wrong one, refused by the sandbox (exit 3).
    r = cli(srv, "check", SYNCD_CONFIG=str(config), SYNCD_SMARTRECRUITERS__API_KEY="wrong-k")
    assert r.exit_code == 3 and "was refused (Invalid API key)" in r.stderr
    key.unlink()
    r = cli(srv, "check", SYNCD_CONFIG=str(config), SYNCD_SMARTRECRUITERS__API_KEY=None)
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        f"syncd: SYNCD_CONFIG ({config}): [smartrecruiters] api_key_file: cannot read "
        f"'{key}' (No such file or directory); point it at a readable file holding the "
        "SmartRecruiters API key"
    ]
    assert r.stdout == ""
