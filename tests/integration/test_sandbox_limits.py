"""Per-credential limits over real HTTP: 10 requests/s, 8 in flight, 1 ``GET /candidates`` in
flight, 2 requests/s on publication endpoints, X-RateLimit-* headers, and switching them off.

Concurrency is made deterministic by holding admitted requests in the server: the ``latency``
fault is spent inside the admitted slot, so with ``latency=1s`` every request of a burst arrives
while the first admitted ones still hold their slots. Rate outcomes are asserted against the
bound the token bucket guarantees for the measured burst duration (capacity + rate x elapsed),
which holds however slow the machine is.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread, spawn
from tests.conftest import TOKEN, sandbox_options

RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-concurrent-limit",
    "x-ratelimit-concurrent-remaining",
)


@pytest.fixture
def limited(fresh_sandbox: ThreadServer) -> Iterator[str]:
    """Base URL of a fresh sandbox with real limits, so every bucket starts full."""
    yield fresh_sandbox.base_url


def burst(base_url: str, path: str, n: int, key: str = TOKEN) -> tuple[list[httpx.Response], float]:
    """``n`` concurrent GETs from one credential; (responses, seconds from first send to last
    answer)."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(
            base_url=base_url, headers={"X-SmartToken": key}, timeout=30, limits=limits
        ) as client:
            return list(await asyncio.gather(*(client.get(path) for _ in range(n))))

    started = time.monotonic()
    responses = asyncio.run(run())
    return responses, time.monotonic() - started


def control(base_url: str, path: str, body: dict[str, object]) -> None:
    httpx.post(f"{base_url}/_sandbox/{path}", json=body).raise_for_status()


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def refusals(responses: list[httpx.Response]) -> Counter[str]:
    return Counter(r.json()["message"] for r in responses if r.status_code == 429)


def test_headers_on_every_response(api: httpx.Client) -> None:
    job_id = api.get("/jobs", params={"limit": 1}).json()["content"][0]["id"]
    responses = [
        api.get("/jobs", params={"limit": 1}),  # 200
        api.get("/jobs/not-a-job"),  # 404 from a route
        api.get("/candidates", params={"limit": 0}),  # 400 from validation
        api.get(f"/jobs/{job_id}/status/history"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 200]
    for r in responses:
        assert r.headers["x-ratelimit-limit"] == "10"
        assert r.headers["x-ratelimit-concurrent-limit"] == "8"
        assert 0 <= int(r.headers["x-ratelimit-remaining"]) <= 10
        assert 0 <= int(r.headers["x-ratelimit-concurrent-remaining"]) <= 8


def test_burst_over_ten_per_second_gets_429(limited: str) -> None:
    control(limited, "limits", {"concurrent": 1000})  # only the rate limit is in play
    n = 60
    responses, elapsed = burst(limited, "/jobs?limit=1", n)
    counts = statuses(responses)
    assert set(counts) <= {200, 429}
    allowed = 10 + math.ceil(10 * elapsed)
    assert counts[200] <= allowed, (counts, elapsed)
    assert counts[429] >= n - allowed
    assert counts[429] >= 1
    assert refusals(responses) == {"Rate limit exceeded": counts[429]}
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["errors"][0]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.headers["x-ratelimit-limit"] == "10"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    stats = httpx.get(f"{limited}/_sandbox/stats").json()
    assert stats["throttled"] == counts[429]


def test_limits_are_per_credential(limited: str) -> None:
    control(limited, "limits", {"concurrent": 1000})
    control(limited, "credentials", {"apiKey": "second-key"})
    first, _ = burst(limited, "/jobs?limit=1", 40)
    assert statuses(first)[429] >= 1
    # A second credential has a bucket of its own: its first request passes.
    r = httpx.get(f"{limited}/jobs?limit=1", headers={"X-SmartToken": "second-key"})
    assert r.status_code == 200


def test_two_concurrent_candidate_lists_get_one_429(limited: str) -> None:
    control(limited, "limits", {"rate": 1000})
    control(limited, "faults", {"spec": "latency=1s"})
    responses, _ = burst(limited, "/candidates?limit=1", 2)
    assert sorted(r.status_code for r in responses) == [200, 429]
    assert refusals(responses) == {"Too many concurrent GET /candidates requests": 1}


def test_many_concurrent_candidate_lists_admit_one(limited: str) -> None:
    control(limited, "limits", {"rate": 1000})
    control(limited, "faults", {"spec": "latency=1s"})
    n = 12
    responses, _ = burst(limited, "/candidates?limit=1", n)
    assert statuses(responses) == {200: 1, 429: n - 1}
    # Other endpoints are not held back by the GET /candidates slot.
    job = httpx.get(f"{limited}/jobs?limit=1", headers={"X-SmartToken": TOKEN})
    assert job.status_code == 200


def test_eight_requests_in_flight(limited: str) -> None:
    control(limited, "limits", {"rate": 1000})
    control(limited, "faults", {"spec": "latency=1s"})
    n = 20
    responses, _ = burst(limited, "/jobs?limit=1", n)
    assert statuses(responses) == {200: 8, 429: n - 8}
    assert refusals(responses) == {"Too many concurrent requests": n - 8}
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["x-ratelimit-concurrent-remaining"] == "0"


def test_publication_endpoints_two_per_second(limited: str) -> None:
    control(limited, "limits", {"rate": 1000, "concurrent": 1000})
    job_id = httpx.get(f"{limited}/jobs?limit=1", headers={"X-SmartToken": TOKEN}).json()[
        "content"
    ][0]["id"]
    n = 20
    responses, elapsed = burst(limited, f"/jobs/{job_id}/publication", n)
    refused = refusals(responses)
    allowed = 2 + math.ceil(2 * elapsed)
    assert n - sum(refused.values()) <= allowed, (refused, elapsed)
    assert refused["Rate limit exceeded for publication endpoints"] >= max(1, n - allowed)
    # Ordinary endpoints keep their own budget.
    r = httpx.get(f"{limited}/jobs?limit=1", headers={"X-SmartToken": TOKEN})
    assert r.status_code == 200


def test_limits_off_admit_everything(open_sandbox: ThreadServer) -> None:
    control(open_sandbox.base_url, "faults", {"spec": "latency=200ms"})
    n = 30
    responses, _ = burst(open_sandbox.base_url, "/candidates?limit=1", n)
    assert statuses(responses) == {200: n}
    for r in responses:
        assert all(h in r.headers for h in RATE_HEADERS)


def test_limits_can_be_switched_off_at_run_time(limited: str) -> None:
    control(limited, "limits", {"enabled": False})
    responses, _ = burst(limited, "/jobs?limit=1", 40)
    assert statuses(responses) == {200: 40}


def test_limit_config_disabled_in_process() -> None:
    srv = serve_in_thread(sandbox_options(candidates=20, jobs=3, limits=LimitConfig(enabled=False)))
    try:
        responses, _ = burst(srv.base_url, "/jobs?limit=1", 40)
        assert statuses(responses) == {200: 40}
    finally:
        srv.stop()


def test_cli_no_limits_flag() -> None:
    proc = spawn("--no-limits", "--candidates", "30", "--jobs", "3", "--token", TOKEN)
    try:
        responses, _ = burst(proc.base_url, "/candidates?limit=1", 25)
        assert statuses(responses) == {200: 25}
    finally:
        proc.stop()


def test_reset_restores_the_configured_limits(limited: str) -> None:
    control(limited, "limits", {"enabled": False})
    control(limited, "reset", {})
    control(limited, "faults", {"spec": "latency=1s"})
    responses, _ = burst(limited, "/candidates?limit=1", 3)
    assert statuses(responses) == {200: 1, 429: 2}
