"""The HRIS sinks (``bamboohr``, ``personio``) end to end, per vendor, over real HTTP: the
SmartRecruiters sandbox and the vendor's HRIS sandbox under uvicorn, a real mirror (SQLite file;
PostgreSQL when SYNCD_TEST_POSTGRES_URL is set), ``syncd push --once`` and ``syncd sinks check``
as real subprocesses.

- a hire becomes exactly one employee with the mapped fields; READY_TO_ONBOARD, then (the
  employee activated through the HRIS sandbox's control API) ONBOARDING_SUCCESSFUL;
- "written but answer lost" creates, 503/429 bursts and ``push --once`` SIGKILLed at random
  points (>= 5 times): no second employee, every hire present;
- a create the HRIS refuses (BambooHR 409, Personio 422): a dead letter with the vendor's
  message, ONBOARDING_FAILED written back, the other hires delivered;
- ``syncd sinks check`` tells a wrong key, a wrong host and a missing permission apart;
- Personio's bearer: one per run, renewed once after a 401.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from syncd.hris_sandbox.runner import HrisThreadServer, serve_in_thread
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer
from syncd.sandbox.runner import serve_in_thread as serve_tenant
from syncd.sinks.base import Delivery
from tests.conftest import sandbox_options
from tests.integration.hris.conftest import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    bamboo_options,
    personio_options,
)
from tests.integration.hris.conftest import control as hris_control
from tests.integration.push_env import (
    onboarding_writes,
    open_deliveries,
    push_env,
    push_until_settled,
    syncd_run,
    write_config,
)
from tests.integration.test_mirror_sync import control, run_pass, settings_for, snapshot
from tests.integration.test_push_delivery import delivery_rows, do_hires
from tests.integration.test_push_webhook import candidates_to_hire

VENDORS = ["bamboohr", "personio"]
SEEDED = 5  # employees the HRIS company already has
# What a new hire is until HR activates them (the on-activation policy's starting point).
WAITING = {"bamboohr": "Inactive", "personio": "onboarding"}


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_tenant(sandbox_options(candidates=60, jobs=6, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


@pytest.fixture
def hris(request: pytest.FixtureRequest) -> Iterator[HrisThreadServer]:
    make = bamboo_options if request.param == "bamboohr" else personio_options
    srv = serve_in_thread(make(limits=False))
    yield srv
    srv.stop()


def vendor(hris: HrisThreadServer) -> str:
    return str(hris.sandbox.vendor.name)


def hris_sink(hris: HrisThreadServer, tmp: Path, **over: Any) -> dict[str, Any]:
    """A ``[sinks.hr]`` table for the sandbox, its secret in a file (never in the TOML)."""
    common = {
        "base_url": hris.base_url,
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.05,
        "start": "now",
    }
    secret = tmp / "hris-secret"
    if vendor(hris) == "bamboohr":
        secret.write_text(API_KEY + "\n")
        table = {"type": "bamboohr", "api_key_file": str(secret), **common}
    else:
        secret.write_text(CLIENT_SECRET + "\n")
        table = {
            "type": "personio",
            "client_id": CLIENT_ID,
            "client_secret_file": str(secret),
            **common,
        }
    return {**table, **over}


def new_employees(hris: HrisThreadServer) -> list[dict[str, Any]]:
    return [e for e in hris_control(hris.base_url, "snapshot")["employees"] if e["id"] > SEEDED]


def email_of(hris: HrisThreadServer, employee: dict[str, Any]) -> str:
    return str(employee["workEmail" if vendor(hris) == "bamboohr" else "email"]).lower()


def started(
    tenant: ThreadServer, db: Engine, db_url: str, tmp: Path, sink: dict[str, Any], n: int
) -> tuple[Any, dict[str, str], list[dict[str, Any]]]:
    """Backfill, the sink's first pass (its cursor at the outbox head), and ``n`` candidates to
    hire."""
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    env = push_env(tenant, db_url, write_config(tmp, {"hr": sink}))
    first = syncd_run(env, "push", "--once")
    assert first.returncode == 0, first.stderr
    return st, env, candidates_to_hire(tenant, n)


def assert_one_employee_per_hire(
    tenant: ThreadServer, hris: HrisThreadServer, apps: list[dict[str, Any]], db: Engine
) -> dict[str, dict[str, Any]]:
    """Every hire is exactly one employee (by email; BambooHR also by employee number), and
    the delivery holds the employee's id. Returns the employees by application id."""
    truth = snapshot(tenant)
    emps = new_employees(hris)
    assert len(emps) == len(apps), "a hire was created twice or is missing"
    by_email = {email_of(hris, e): e for e in emps}
    assert len(by_email) == len(emps)
    rows = {r["external_key"]: r for r in delivery_rows(db)}
    out = {}
    for a in apps:
        cand = truth["candidates"][a["candidateId"]]
        emp = by_email[cand["email"].lower()]
        row = rows[f"sr-{a['id']}"]
        assert (row["state"], row["target_id"]) == ("delivered", str(emp["id"]))
        out[a["id"]] = emp
    return out


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_hire_becomes_one_employee_then_onboarding_successful(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    hris_control(hris.base_url, "settings", {"newEmployeeStatus": WAITING[vendor(hris)]})
    sink = hris_sink(hris, tmp_path, status_policy="on-activation")
    st, env, apps = started(tenant, db, db_url, tmp_path, sink, 3)
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    assert "delivered 3, rejected 0, dead 0" in out.stdout, out.stdout

    emps = assert_one_employee_per_hire(tenant, hris, apps, db)
    truth = snapshot(tenant)
    for a in apps:
        cand, job = truth["candidates"][a["candidateId"]], truth["jobs"][a["jobId"]]
        app = truth["applications"][a["id"]]
        emp = emps[a["id"]]
        if vendor(hris) == "bamboohr":
            got = (emp["employeeNumber"], emp["firstName"], emp["lastName"], emp["hireDate"])
            assert got == (
                f"sr-{a['id']}",
                cand["firstName"],
                cand["lastName"],
                app["startsOn"][:10],
            )
            assert emp["jobTitle"] == job["title"]
            assert emp["status"] == "Inactive"
        else:
            got = (emp["first_name"], emp["last_name"], emp["hire_date"], emp["position"])
            assert got == (cand["firstName"], cand["lastName"], app["startsOn"][:10], job["title"])
            assert emp["status"] == "onboarding"
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD"]

    # HR activates the first hire: the status read back turns into ONBOARDING_SUCCESSFUL.
    first = apps[0]["id"]
    hris_control(hris.base_url, f"employees/{emps[first]['id']}/activate", {})
    again = syncd_run(env, "push", "--once")
    assert again.returncode == 0, again.stderr
    assert "status read 1" in again.stdout, again.stdout
    assert onboarding_writes(tenant, first) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]
    for a in apps[1:]:
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD"]
    assert len(new_employees(hris)) == 3  # status reads create nobody


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_lost_answers_bursts_and_sigkill_never_make_a_second_employee(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    sink = hris_sink(hris, tmp_path, batch_size=2, concurrency=1, max_attempts=60)
    st, env, apps = started(tenant, db, db_url, tmp_path, sink, 14)
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    # Every operation: 503s, 429s (Retry-After: 0) and creates written whose answer is lost.
    # The first two creates are written and their answers lost, whatever the rates draw.
    plan = {
        "queue": [{"kind": "lost", "op": "create", "count": 2}],
        "rates": "503=0.1,429=0.1,lost=0.15",
        "retryAfter": 0,
        "seed": 11,
    }
    hris_control(hris.base_url, "faults", plan)

    rng = random.Random(20261129)
    kills = 0
    for _ in range(60):
        before = hris.sandbox.stats["created"]
        target = before + rng.randint(0, 3)
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "push", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Killed once the run has created a random number of employees (or it ended).
        deadline = time.monotonic() + 120
        while proc.poll() is None and hris.sandbox.stats["created"] < target:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError("push --once neither created an employee nor ended in 120 s")
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
            # A pass ends at the first failed attempt (retried by a later pass): go on until
            # every delivery is settled.
            if open_deliveries(db_url) == 0:
                break
    assert kills >= 5
    push_until_settled(env, db_url)
    faults = hris_control(hris.base_url, "stats")["faults"]
    assert faults.get("lost", 0) > 0 and faults.get("503", 0) > 0 and faults.get("429", 0) > 0

    hris_control(hris.base_url, "faults", {})
    emps = assert_one_employee_per_hire(tenant, hris, apps, db)
    if vendor(hris) == "bamboohr":
        assert sorted(e["employeeNumber"] for e in emps.values()) == sorted(
            f"sr-{a['id']}" for a in apps
        )
    for a in apps:
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_refused_create_is_a_dead_letter_with_the_vendors_message(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    st, env, apps = started(tenant, db, db_url, tmp_path, hris_sink(hris, tmp_path), 4)
    bad = apps[1]
    control(tenant, f"candidates/{bad['candidateId']}/update", {"email": "no-at-sign.example"})
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    assert "delivered 3, rejected 1, dead 0" in out.stdout, out.stdout

    dead = json.loads(
        syncd_run(env, "deliveries", "list", "--state", "dead-letters", "--json").stdout
    )
    code, text = (
        (409, "Invalid value for field 'workEmail': not an email address")
        if vendor(hris) == "bamboohr"
        else (422, "The employee's email is not a valid email address")
    )
    assert [(d["external_key"], d["state"], d["status_code"]) for d in dead] == [
        (f"sr-{bad['id']}", "rejected", code)
    ]
    assert dead[0]["reason"] == text
    assert onboarding_writes(tenant, bad["id"]) == ["ONBOARDING_FAILED"]
    good = [a for a in apps if a is not bad]
    for a in good:
        assert onboarding_writes(tenant, a["id"]) == ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]
    assert len(new_employees(hris)) == 3


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_sinks_check_tells_key_host_and_permission_apart(
    hris: HrisThreadServer, tenant: ThreadServer, tmp_path: Path, refused_port: int
) -> None:
    def check(table: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
        cfg = write_config(tmp_path, {"hr": table})
        return syncd_run(
            {"SYNCD_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", **env}, "sinks", "check", "hr"
        )

    bamboo = vendor(hris) == "bamboohr"
    ok = check(hris_sink(hris, tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert "hr: reachable; capabilities: create, status" in ok.stdout
    if bamboo:  # BambooHR's older gateway form of the address works the same
        gateway = check(
            hris_sink(hris, tmp_path, base_url=f"{hris.base_url}/api/gateway.php/sandbox")
        )
        assert gateway.returncode == 0, gateway.stderr

    wrong = tmp_path / "wrong-secret"
    wrong.write_text("not-the-secret")
    key = "api_key_file" if bamboo else "client_secret_file"
    bad_key = check(hris_sink(hris, tmp_path, **{key: str(wrong)}))
    assert bad_key.returncode == 1
    # The fix names where the refused secret came from: the file's key, or the variable.
    cfg_key = f"SYNCD_CONFIG ({tmp_path / 'syncd.toml'}) [sinks.hr] {key}"
    assert bad_key.stderr.splitlines() == [
        f"hr: api_key: BambooHR refuses the API key from {cfg_key} (HTTP 401: Invalid API "
        f"key); create one under your name > API Keys and put it in the file {cfg_key} names"
        if bamboo
        else "hr: client_id/client_secret: Personio refuses the credentials (HTTP 401: Wrong "
        f"credentials; the client secret from {cfg_key}); create them under Settings > "
        f"Integrations > API credentials, and put the client secret in the file {cfg_key} names"
    ]
    variable = "SYNCD_SINKS__HR__" + key.removesuffix("_file").upper()
    table = {k: v for k, v in hris_sink(hris, tmp_path).items() if k != key}
    from_env = check(table, **{variable: "wrong-env-secret"})
    assert from_env.returncode == 1
    assert from_env.stderr.splitlines() == [
        f"hr: api_key: BambooHR refuses the API key from {variable} (HTTP 401: Invalid API "
        f"key); create one under your name > API Keys and set {variable} to it"
        if bamboo
        else "hr: client_id/client_secret: Personio refuses the credentials (HTTP 401: Wrong "
        f"credentials; the client secret from {variable}); create them under Settings > "
        f"Integrations > API credentials, and set {variable} to the client secret"
    ]
    assert "wrong-env-secret" not in from_env.stdout + from_env.stderr

    nowhere = check(hris_sink(hris, tmp_path, base_url=f"http://127.0.0.1:{refused_port}"))
    assert nowhere.returncode == 1 and "base_url: cannot reach http://127.0.0.1:" in nowhere.stderr
    elsewhere = check(hris_sink(hris, tmp_path, base_url=tenant.base_url))
    assert elsewhere.returncode == 1
    assert f"base_url: {tenant.base_url} does not answer as" in elsewhere.stderr

    if bamboo:
        hris_control(
            hris.base_url, "credentials", {"apiKey": "reader", "scopes": ["employee", "report"]}
        )
        limited = tmp_path / "limited"
        limited.write_text("reader")
        table = hris_sink(hris, tmp_path, api_key_file=str(limited))
        expected = (
            "permission: the API key's user may not add employees "
            "(HTTP 403 on POST /api/v1/employees"
        )
    else:
        hris_control(
            hris.base_url,
            "credentials",
            {"clientId": "reader", "clientSecret": "reader-secret", "scopes": ["employees:read"]},
        )
        limited = tmp_path / "limited"
        limited.write_text("reader-secret")
        table = hris_sink(hris, tmp_path, client_id="reader", client_secret_file=str(limited))
        expected = (
            "permission: the credentials may not create employees "
            "(HTTP 403 on POST /v1/company/employees"
        )
    denied = check(table)
    assert denied.returncode == 1 and expected in denied.stderr, denied.stderr
    assert denied.stderr.count("permission:") == 1  # reading is allowed: one line only

    # The secret from the environment instead of a file; never printed.
    table = hris_sink(hris, tmp_path)
    table.pop(key)
    env_key = f"SYNCD_SINKS__HR__{'API_KEY' if bamboo else 'CLIENT_SECRET'}"
    from_env = check(table, **{env_key: API_KEY if bamboo else CLIENT_SECRET})
    assert from_env.returncode == 0, from_env.stderr
    missing = check(table)
    assert missing.returncode == 2
    assert f"sinks.hr: {key}: required" in missing.stderr and env_key in missing.stderr
    # The TOML file names a stale key file; the environment gives the key once: it wins, as for
    # the SmartRecruiters credential. Both spellings in the environment are refused, naming both.
    stale = hris_sink(hris, tmp_path, **{key: str(wrong)})
    env_wins = check(stale, **{env_key: API_KEY if bamboo else CLIENT_SECRET})
    assert env_wins.returncode == 0, env_wins.stderr
    assert "hr: reachable" in env_wins.stdout
    twice = check(
        table, **{env_key: API_KEY if bamboo else CLIENT_SECRET, f"{env_key}_FILE": str(wrong)}
    )
    assert twice.returncode == 2
    assert twice.stderr.strip().splitlines() == [
        f"syncd: sinks.hr: {env_key} and {env_key}_FILE both give the "
        f"{'api key' if bamboo else 'client secret'}; unset one of them"
    ]
    for run in (ok, bad_key, nowhere, elsewhere, denied, from_env, missing, env_wins, twice):
        for secret in (API_KEY, CLIENT_SECRET, "not-the-secret", "reader-secret"):
            assert secret not in run.stdout + run.stderr


@pytest.mark.parametrize("hris", ["personio"], indirect=True)
def test_personio_bearer_is_cached_and_renewed_once_after_401(
    hris: HrisThreadServer, tmp_path: Path
) -> None:
    from syncd.sinks.config import build_sink

    async def go() -> list[str | None]:
        _, sink = build_sink("hr", hris_sink(hris, tmp_path))
        async with sink:
            ids = []
            for i in range(3):
                d = Delivery(
                    delivery_id=f"msg_{i}",
                    external_key=f"sr-bearer-{i}",
                    event_type="application.hired",
                    data={"email": f"bearer{i}@example.org", "first_name": "A", "last_name": "B"},
                    timestamp=datetime.now(UTC),
                )
                ids.append((await sink.create_or_match(d)).target_id)
            assert hris_control(hris.base_url, "stats")["stats"]["tokens"] == 1
            hris_control(hris.base_url, "tokens/expire", {})
            person = await sink.status("sr-bearer-0", ids[0])
            assert person is not None and person.status == "active"
            return ids

    ids = asyncio.run(go())
    assert len(set(ids)) == 3
    assert hris_control(hris.base_url, "stats")["stats"]["tokens"] == 2
    assert httpx.get(f"{hris.base_url}/health").status_code == 200


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_every_sink_request_and_answer_matches_the_vendors_spec(
    hris: HrisThreadServer, tmp_path: Path
) -> None:
    """The sinks' own exchanges (lookup, create, the lookup that matches, status, check) checked
    against the vendor's OpenAPI document, as the HRIS sandbox's tests check theirs."""
    from syncd.sinks.config import build_sink
    from tests.conftest import SHARED
    from tests.integration.hris.conftest import spec_doc
    from tests.integration.hris.hris_spec import Recorder

    if not SHARED.is_dir():
        pytest.skip(f"the vendors' OpenAPI documents are in {SHARED}, which is absent")
    bamboo = vendor(hris) == "bamboohr"
    data = (
        {"employeeNumber": "sr-spec-1", "firstName": "Ada", "lastName": "L",
         "workEmail": "ada@example.org", "hireDate": "2027-01-04", "jobTitle": "Engineer"}
        if bamboo
        else {"email": "ada@example.org", "first_name": "Ada", "last_name": "L",
              "hire_date": "2027-01-04", "position": "Engineer", "department": "Engineering"}
    )  # fmt: skip
    recorder = Recorder()

    async def record(response: httpx.Response) -> None:
        await response.aread()
        recorder(response)

    async def go() -> list[str]:
        _, sink = build_sink("hr", hris_sink(hris, tmp_path))
        sink._client.event_hooks["response"].append(record)  # type: ignore[attr-defined]
        async with sink:
            d = Delivery("msg_1", "sr-spec-1", "application.hired", data, datetime.now(UTC))
            made = await sink.create_or_match(d)
            again = await sink.create_or_match(d)
            assert made.kind == "accepted" and made.reason is None
            assert (again.kind, again.reason, again.target_id) == (
                "accepted",
                "matched",
                made.target_id,
            )
            person = await sink.status("sr-spec-1", made.target_id)
            assert person is not None and person.target_id == made.target_id
            return await sink.check()

    assert asyncio.run(go()) == []
    assert len(new_employees(hris)) == 1
    found = [
        f"{ex.method} {ex.path}: {p}"
        for ex in recorder.exchanges
        for p in spec_doc(vendor(hris)).problems(ex)
    ]
    assert len(recorder.exchanges) >= 8
    assert not found, "\n".join(found)


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_a_create_answered_too_late_is_matched_and_a_timed_out_one_made_once(
    hris: HrisThreadServer, tmp_path: Path
) -> None:
    """``slow``: the create is written but answered after the sink gave up (an unknown
    outcome); the next attempt's lookup finds the employee. ``timeout``: nothing was written;
    the next attempt creates the employee, once."""
    from syncd.sinks.config import build_sink

    bamboo = vendor(hris) == "bamboohr"

    def data(i: int) -> dict[str, Any]:
        if bamboo:
            return {"employeeNumber": f"sr-late-{i}", "firstName": "A", "lastName": "B"}
        return {"email": f"late{i}@example.org", "first_name": "A", "last_name": "B"}

    queue = [{"kind": "slow", "op": "create"}, {"kind": "timeout", "op": "create"}]
    hris_control(hris.base_url, "faults", {"queue": queue, "timeoutSeconds": 2})

    async def go() -> list[Any]:
        _, sink = build_sink("hr", hris_sink(hris, tmp_path, timeout=0.5))
        out = []
        async with sink:
            for i in (1, 2):
                d = Delivery(
                    f"msg_{i}", f"sr-late-{i}", "application.hired", data(i), datetime.now(UTC)
                )
                out.append(await sink.create_or_match(d))
                out.append(await sink.create_or_match(d))
        return out

    slow_first, slow_again, timeout_first, timeout_again = asyncio.run(go())
    assert (slow_first.kind, slow_first.unknown) == ("retry", True)
    assert (slow_again.kind, slow_again.reason) == ("accepted", "matched")
    assert (timeout_first.kind, timeout_first.unknown) == ("retry", True)
    assert (timeout_again.kind, timeout_again.reason) == ("accepted", None)
    emps = new_employees(hris)
    assert sorted(str(e["id"]) for e in emps) == sorted(
        [slow_again.target_id, timeout_again.target_id]
    )


def _hired_then_revoked(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> tuple[Any, dict[str, str], list[dict[str, Any]], list[dict[str, Any]], str]:
    """Two hires pushed, the first refused (a bad email), the second an employee; then both
    revoked in SmartRecruiters (back to OFFERED) and the first's email fixed, ready to be hired
    again. Returns (state, env, the two applications, the one employee, the fixed email)."""
    st, env, apps = started(tenant, db, db_url, tmp_path, hris_sink(hris, tmp_path), 2)
    refused_first = apps[0]
    control(tenant, f"candidates/{refused_first['candidateId']}/update", {"email": "no-at-sign"})
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert "delivered 1, rejected 1, dead 0" in out.stdout, out.stdout + out.stderr
    first_employee = new_employees(hris)
    assert len(first_employee) == 1
    for a in apps:
        control(tenant, "status", {"candidateId": a["candidateId"], "jobId": a["jobId"],
                                   "status": "OFFERED"})  # fmt: skip
    fixed = f"rehired-{refused_first['candidateId'][:8]}@example.org"
    control(tenant, f"candidates/{refused_first['candidateId']}/update", {"email": fixed})
    return st, env, apps, first_employee, fixed


@pytest.mark.parametrize("hris", VENDORS, indirect=True)
def test_a_hire_revoked_then_made_again_is_delivered_again(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """A rehire is a hire of its own (hire round 2): refused the first time (a bad email, then
    the hire revoked and the email fixed), it becomes an employee; delivered the first time, it
    matches the employee already there (BambooHR and Personio have no revoke, so the person
    stayed). Exactly once per hire event: passes and pushes after it change nothing."""
    st, env, apps, first_employee, fixed = _hired_then_revoked(tenant, hris, db, db_url, tmp_path)
    refused_first, delivered_first = apps
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert out.returncode == 0, out.stderr
    assert "delivered 2, rejected 0, dead 0" in out.stdout, out.stdout

    emps = new_employees(hris)
    assert len(emps) == 2  # the refused hire now created; the delivered one matched, not doubled
    created = [e for e in emps if e["id"] != first_employee[0]["id"]]
    assert [email_of(hris, e) for e in created] == [fixed]
    key_of = {a["candidateId"]: f"sr-{a['id']}" for a in apps}
    rows = [
        (key_of[r["candidate_id"]], r["event_type"], r["hire_round"], r["state"], r["target_id"])
        for r in delivery_rows(db)
        if r["candidate_id"] in key_of
    ]
    hired, revoked = "application.hired", "application.hire_revoked"
    key_r, key_d = f"sr-{refused_first['id']}", f"sr-{delivered_first['id']}"
    first_id, new_id = str(first_employee[0]["id"]), str(created[0]["id"])
    assert sorted(rows, key=lambda r: (r[0], r[2], r[1] != hired)) == sorted(
        [
            (key_r, hired, 1, "rejected", None),
            (key_r, revoked, 1, "skipped", None),
            (key_r, hired, 2, "delivered", new_id),
            (key_d, hired, 1, "delivered", first_id),
            (key_d, revoked, 1, "skipped", None),
            (key_d, hired, 2, "delivered", first_id),
        ],
        key=lambda r: (r[0], r[2], r[1] != hired),
    )
    # Each round's statuses written in order, once each: the rehire starts again from
    # READY_TO_ONBOARD (the sandbox's audit of onboarding-status writes is the truth).
    writes = {
        "refused first": ["ONBOARDING_FAILED", "READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"],
        "delivered first": ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"] * 2,
    }
    assert {
        "refused first": onboarding_writes(tenant, refused_first["id"]),
        "delivered first": onboarding_writes(tenant, delivered_first["id"]),
    } == writes
    shown = tenant.sandbox.tenant.applications
    assert {shown[a["id"]]["onboardingStatus"] for a in apps} == {"ONBOARDING_SUCCESSFUL"}

    # The same hires seen again (a complete sweep) are the same round: nothing more is sent.
    run_pass(st, db, "backfill")
    again = syncd_run(env, "push", "--once")
    assert again.returncode == 0, again.stderr
    assert "delivered 0," in again.stdout, again.stdout
    assert len(delivery_rows(db)) == len(rows) and len(new_employees(hris)) == 2
    assert {
        "refused first": onboarding_writes(tenant, refused_first["id"]),
        "delivered first": onboarding_writes(tenant, delivered_first["id"]),
    } == writes


@pytest.mark.parametrize("hris", ["bamboohr"], indirect=True)
def test_a_hire_revoked_and_made_again_before_any_push_is_sent_once(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """Hired, revoked and hired again between two pushes: the first round, never sent, is
    skipped with its revocation; the second is the one employee."""
    st, env, apps = started(tenant, db, db_url, tmp_path, hris_sink(hris, tmp_path), 1)
    a = apps[0]
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    control(tenant, "status", {"candidateId": a["candidateId"], "jobId": a["jobId"],
                               "status": "OFFERED"})  # fmt: skip
    run_pass(st, db, "incremental")
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    out = syncd_run(env, "push", "--once")
    assert "delivered 1, rejected 0, dead 0" in out.stdout, out.stdout + out.stderr
    emps = new_employees(hris)
    assert len(emps) == 1 and emps[0]["employeeNumber"] == f"sr-{a['id']}"
    rows = [(r["event_type"], r["hire_round"], r["state"]) for r in delivery_rows(db)]
    assert sorted(rows) == [
        ("application.hire_revoked", 1, "skipped"),
        ("application.hired", 1, "skipped"),
        ("application.hired", 2, "delivered"),
    ]


@pytest.mark.parametrize("hris", ["bamboohr"], indirect=True)
def test_rehires_consumed_before_hire_rounds_are_derived_by_migration_0010(
    tenant: ThreadServer, hris: HrisThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """Before 0008 a BambooHR sink consumed a revocation and the hire after it without a trace
    (no revocation recorded, the rehire colliding with the first hire's key), so the rehire
    was never sent. Reproduced by moving the sink's cursor past them without a push, then
    migrating from 0009: the outbox's records give the revocation (skipped) and round 2
    (pending), which the next push delivers (the refused person now created, the delivered one
    matched) and writes back from READY_TO_ONBOARD."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from syncd.mirror.db import MIGRATIONS, head_revision, migrate

    st, env, apps, first_employee, fixed = _hired_then_revoked(tenant, hris, db, db_url, tmp_path)
    refused_first, delivered_first = apps
    run_pass(st, db, "incremental")
    do_hires(tenant, apps)
    run_pass(st, db, "incremental")
    # What the dispatcher before 0008 left: the cursor past both events, no delivery for them.
    with db.begin() as conn:
        conn.execute(text("UPDATE sink_cursors SET sequence = (SELECT MAX(sequence) FROM changes)"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    assert migrate(db) == ("0009", head_revision(db))

    key_of = {a["candidateId"]: f"sr-{a['id']}" for a in apps}

    def rows() -> list[tuple[str, str, int, str]]:
        return sorted(
            (key_of[r["candidate_id"]], r["event_type"], r["hire_round"], r["state"])
            for r in delivery_rows(db)
            if r["candidate_id"] in key_of
        )

    hired, revoked = "application.hired", "application.hire_revoked"
    key_r, key_d = key_of[refused_first["candidateId"]], key_of[delivered_first["candidateId"]]
    assert rows() == sorted(
        [
            (key_r, hired, 1, "rejected"),
            (key_r, revoked, 1, "skipped"),
            (key_r, hired, 2, "pending"),
            (key_d, hired, 1, "delivered"),
            (key_d, revoked, 1, "skipped"),
            (key_d, hired, 2, "pending"),
        ]
    )
    out = syncd_run(env, "push", "--once")
    assert "delivered 2, rejected 0, dead 0" in out.stdout, out.stdout + out.stderr
    emps = new_employees(hris)
    assert len(emps) == 2
    created = [e for e in emps if e["id"] != first_employee[0]["id"]]
    assert [email_of(hris, e) for e in created] == [fixed]
    assert {
        "refused first": onboarding_writes(tenant, refused_first["id"]),
        "delivered first": onboarding_writes(tenant, delivered_first["id"]),
    } == {
        "refused first": ["ONBOARDING_FAILED", "READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"],
        "delivered first": ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"] * 2,
    }
    # Derived once: migrating again (down and up) and pushing adds nothing.
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    migrate(db)
    again = syncd_run(env, "push", "--once")
    assert "delivered 0," in again.stdout, again.stdout
    assert len(new_employees(hris)) == 2
    assert [s for *_, s in rows()].count("pending") == 0
