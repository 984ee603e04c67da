"""Fault injection as a raw httpx client sees it: each kind at rate 1.0, seeded determinism, and
clear errors for bad specs from the control API and the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from click.testing import CliRunner

from syncd.cli import main as cli
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options


@pytest.fixture
def base(open_sandbox: ThreadServer) -> str:
    return open_sandbox.base_url


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers={"X-SmartToken": TOKEN}, timeout=30) as c:
        yield c


def set_faults(base: str, spec: str, **extra: object) -> dict[str, object]:
    r = httpx.post(f"{base}/_sandbox/faults", json={"spec": spec, "timeoutSeconds": 1, **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def fault_counts(base: str) -> dict[str, int]:
    return dict(httpx.get(f"{base}/_sandbox/stats").json()["faults"])


def an_application(client: httpx.Client, status: str) -> dict[str, str]:
    snap = client.get("/_sandbox/snapshot", params={"include": "applications"}).json()
    return next(a for a in snap["applications"].values() if a["status"] == status)


def test_429_fault(base: str, client: httpx.Client) -> None:
    set_faults(base, "429=1.0")
    r = client.get("/jobs")
    assert r.status_code == 429
    assert r.json() == {
        "message": "Rate limit exceeded",
        "errors": [{"code": "RATE_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}],
    }
    assert r.headers["x-ratelimit-limit"] == "10"
    assert fault_counts(base)["429"] == 1


def test_500_fault_does_not_handle_the_request(base: str, client: httpx.Client) -> None:
    app = an_application(client, "IN_REVIEW")
    set_faults(base, "500=1.0")
    path = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}/status"
    r = client.put(path, json={"status": "INTERVIEW"})
    assert r.status_code == 500
    assert r.json() == {
        "message": "Unexpected error",
        "errors": [{"code": "INTERNAL_ERROR", "message": "Unexpected error"}],
    }
    assert "x-ratelimit-remaining" in r.headers
    set_faults(base, "")
    assert an_application_by_id(client, app["id"])["status"] == "IN_REVIEW"


def an_application_by_id(client: httpx.Client, app_id: str) -> dict[str, str]:
    snap = client.get("/_sandbox/snapshot", params={"include": "applications"}).json()
    return dict(snap["applications"][app_id])


def test_timeout_fault_the_write_still_happens(base: str) -> None:
    with httpx.Client(base_url=base, headers={"X-SmartToken": TOKEN}) as c:
        app = an_application(c, "IN_REVIEW")
        set_faults(base, "timeout=1.0")  # the server holds the answer for 1 s
        path = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}/status"
        with pytest.raises(httpx.ReadTimeout):
            c.put(path, json={"status": "INTERVIEW"}, timeout=httpx.Timeout(5, read=0.2))
        # The control API is never faulted: the truth shows the write happened.
        assert an_application_by_id(c, app["id"])["status"] == "INTERVIEW"
    assert fault_counts(base)["timeout"] == 1


def test_timeout_fault_answers_a_patient_client(base: str, client: httpx.Client) -> None:
    set_faults(base, "timeout=1.0")
    started = time.monotonic()
    r = client.get("/jobs", params={"limit": 1})
    assert time.monotonic() - started >= 1.0
    assert r.status_code == 200 and len(r.json()["content"]) == 1


def test_reset_fault_drops_the_connection(base: str, client: httpx.Client) -> None:
    set_faults(base, "reset=1.0")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/jobs")
    assert fault_counts(base)["reset"] == 1


def test_truncate_fault_cuts_the_body(base: str, client: httpx.Client) -> None:
    whole = client.get("/jobs", params={"limit": 5}).content
    set_faults(base, "truncate=1.0")
    r = client.get("/jobs", params={"limit": 5})
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(r.content) == len(whole) // 2
    assert r.content == whole[: len(whole) // 2]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)


def test_latency_fault_delays_every_request(base: str, client: httpx.Client) -> None:
    plan = set_faults(base, "latency=300ms")
    assert plan["latency"] == 0.3 and plan["rates"] == {}
    for _ in range(2):
        started = time.monotonic()
        r = client.get("/jobs", params={"limit": 1})
        assert r.status_code == 200
        assert time.monotonic() - started >= 0.3
    # The control API is not delayed: it answers with the plan in place.
    assert httpx.get(f"{base}/_sandbox/stats").status_code == 200


def _sequence(base: str, n: int) -> list[int]:
    with httpx.Client(base_url=base, headers={"X-SmartToken": TOKEN}) as c:
        return [c.get("/jobs", params={"limit": 1}).status_code for _ in range(n)]


def test_same_seed_same_fault_sequence(base: str) -> None:
    set_faults(base, "429=0.3,500=0.3")
    first = _sequence(base, 40)
    assert {200, 429, 500} <= set(first)
    set_faults(base, "429=0.3,500=0.3")
    assert _sequence(base, 40) == first
    # A second sandbox with the same seed and the plan from its options draws the same.
    other = serve_in_thread(
        sandbox_options(faults="429=0.3,500=0.3", limits=LimitConfig(enabled=False))
    )
    try:
        assert _sequence(other.base_url, 40) == first
    finally:
        other.stop()
    set_faults(base, "429=0.3,500=0.3", seed=8)
    assert _sequence(base, 40) != first


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("boom=0.1", "fault 'boom': unknown"),
        ("500", "fault '500': expected NAME=VALUE"),
        ("500=lots", "fault '500': rate must be a number, got 'lots'"),
        ("429=1.5", "fault '429': rate must be between 0 and 1"),
        ("429=0.6,500=0.6", "fault rates add up to more than 1"),
        ("latency=soon", "latency: expected e.g. 50ms or 0.2s, got 'soon'"),
    ],
)
def test_bad_spec_is_400_naming_the_problem(base: str, spec: str, named: str) -> None:
    r = httpx.post(f"{base}/_sandbox/faults", json={"spec": spec})
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["code"] == "INVALID_FAULTS" and named in err["message"]


def test_fault_spec_field_is_required(base: str) -> None:
    r = httpx.post(f"{base}/_sandbox/faults", json={"timeoutSeconds": 1})
    assert r.status_code == 400 and "'spec' is required" in r.json()["message"]


def test_cli_rejects_bad_faults() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--faults", "500=2"])
    assert result.exit_code == 2
    assert "--faults" in result.output and "rate must be between 0 and 1" in result.output
