"""The client under pressure, over real HTTP: the sandbox's real limits, injected faults, OAuth
expiry mid-crawl, a 10k-record crawl, and a POST whose outcome is unknown. Every test ends on the
sandbox's own truth (``/_sandbox/stats``, ``/_sandbox/snapshot``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.ats import OutcomeUnknownError, SmartRecruitersClient
from syncd.ats.retry import Backoff
from syncd.config import SmartRecruitersSettings
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import CLIENT_ID, CLIENT_SECRET, TOKEN, sandbox_options

FAST = Backoff(base=0.02, cap=0.2)


def settings_for(srv: ThreadServer, **kw: Any) -> SmartRecruitersSettings:
    base: dict[str, Any] = {"base_url": srv.base_url, "api_key": TOKEN, "timeout": 10}
    base.update(kw)
    return SmartRecruitersSettings(**base)


def stats(srv: ThreadServer) -> dict[str, Any]:
    return httpx.get(f"{srv.base_url}/_sandbox/stats").json()


def control(srv: ThreadServer, what: str, body: dict[str, Any] | None = None) -> Any:
    r = httpx.post(f"{srv.base_url}/_sandbox/{what}", json=body or {})
    r.raise_for_status()
    return r.json()


def with_apps(srv: ThreadServer) -> set[str]:
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": "applications"})
    return {a["candidateId"] for a in snap.json()["applications"].values()}


# limits -------------------------------------------------------------------------------------


def test_100_concurrent_callers_cause_no_429(fresh_sandbox: ThreadServer) -> None:
    """Real limits (10 req/s, 8 in flight, 1 GET /candidates, 2 req/s publication); two clients
    of one credential share one limiter."""
    srv = fresh_sandbox
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": "jobs"}).json()
    job_ids = [j for j, v in snap["jobs"].items() if v["status"] not in ("CANCELLED", "FILLED")]
    before = stats(srv)

    async def go() -> tuple[list[Any], int]:
        async with (
            SmartRecruitersClient(settings_for(srv)) as a,
            SmartRecruitersClient(settings_for(srv)) as b,
        ):
            assert a.limiter is b.limiter

            async def caller(i: int) -> Any:
                sr = a if i % 2 else b
                if i % 4 == 0:  # a first page each: 25 GET /candidates, 1 at a time
                    async for page in sr.candidates.pages(limit=100):
                        return page.items
                if i % 25 == 1:
                    return await sr.jobs.publish(job_ids[i % len(job_ids)])
                return await sr.jobs.get(job_ids[i % len(job_ids)])

            results = await asyncio.gather(*(caller(i) for i in range(100)))
            return results, a.calls + b.calls

    results, calls = asyncio.run(go())
    after = stats(srv)
    assert len(results) == 100 and all(isinstance(r, dict | list) for r in results)
    assert after["throttled"] == before["throttled"] == 0
    assert after["stats"].get("throttled", 0) == 0
    sent = after["stats"]["requests"] - before["stats"].get("requests", 0)
    assert calls == 100
    assert sent == calls  # nothing retried: every request the client sent was served


# faults -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


@pytest.mark.parametrize("kind", ["429", "500", "timeout", "reset", "truncate"])
def test_crawl_recovers_from_each_fault_kind_at_10_percent(faulty: ThreadServer, kind: str) -> None:
    srv = faulty
    expected = with_apps(srv)
    control(srv, "faults", {"spec": f"{kind}=0.1", "timeoutSeconds": 1.0, "seed": 11})
    try:

        async def go() -> tuple[list[str], list[dict[str, Any]], int]:
            s = settings_for(srv, timeout=0.3, max_retries=10, rate_limit=200)
            async with SmartRecruitersClient(s, backoff=FAST) as sr:
                ids = [c["id"] async for p in sr.candidates.pages(limit=10) for c in p.items]
                details = [await sr.candidates.get(cid) for cid in ids[:20]]
                return ids, details, sr.retries

        ids, details, retries = asyncio.run(go())
        injected = stats(srv)["faults"][kind]
    finally:
        control(srv, "faults", {"spec": ""})
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert [d["id"] for d in details] == ids[:20]
    assert injected > 0 and retries >= injected  # the faults happened and each was retried


def test_oauth_expiry_in_the_middle_of_a_crawl(faulty: ThreadServer) -> None:
    srv = faulty
    expected = with_apps(srv)

    async def go() -> tuple[list[str], int, int]:
        s = settings_for(
            srv, api_key=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rate_limit=200
        )
        async with SmartRecruitersClient(s) as sr:
            ids: list[str] = []
            async for page in sr.candidates.pages(limit=25):
                ids += [c["id"] for c in page.items]
                if len(ids) in (50, 150):  # every bearer the sandbox issued dies, twice
                    control(srv, "oauth/expire")
            return ids, sr.token_calls, sr.calls

    before = stats(srv)["stats"]
    ids, token_calls, calls = asyncio.run(go())
    after = stats(srv)["stats"]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert token_calls == 3  # the first token and one refresh per expiry
    pages = -(-len(ids) // 25)
    assert calls == pages + 2  # each expiry cost exactly one refused request
    assert after.get("unauthorized", 0) - before.get("unauthorized", 0) == 2


def test_oauth_token_refreshed_before_it_expires(faulty: ThreadServer) -> None:
    """A 4 s token is replaced in its last quarter, so the sandbox never refuses it."""
    srv = faulty
    control(srv, "settings", {"tokenTtl": 4})
    try:

        async def go() -> tuple[int, int]:
            s = settings_for(srv, api_key=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
            async with SmartRecruitersClient(s) as sr:
                await sr.jobs.get(next(iter(await_first_job(srv))))
                sr.auth._token.expires_at -= 3.5  # type: ignore[union-attr]  # as if 3.5 s passed
                await sr.jobs.get(next(iter(await_first_job(srv))))
                return sr.token_calls, sr.calls

        before = stats(srv)["stats"].get("unauthorized", 0)
        token_calls, calls = asyncio.run(go())
        assert (token_calls, calls) == (2, 2)
        assert stats(srv)["stats"].get("unauthorized", 0) == before
    finally:
        control(srv, "settings", {"tokenTtl": 3600})


def await_first_job(srv: ThreadServer) -> list[str]:
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": "jobs"}).json()
    return list(snap["jobs"])


# volume -------------------------------------------------------------------------------------


def test_10k_crawl_returns_each_record_once_while_records_change() -> None:
    srv = serve_in_thread(
        sandbox_options(candidates=10_000, jobs=50, limits=LimitConfig(enabled=False))
    )
    try:
        expected = with_apps(srv)
        some = sorted(expected)[:: max(1, len(expected) // 40)]

        async def go() -> tuple[list[str], int]:
            async with SmartRecruitersClient(settings_for(srv, rate_limit=200)) as sr:
                ids: list[str] = []
                async for page in sr.candidates.pages():
                    ids += [c["id"] for c in page.items]
                    if len(ids) == 3000:  # edits to records behind and ahead of the cursor
                        for cid in some:
                            control(srv, f"candidates/{cid}/update", {"firstName": "Edited"})
                return ids, sr.calls

        ids, calls = asyncio.run(go())
    finally:
        srv.stop()
    assert len(expected) > 9000
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    assert calls == -(-len(expected) // 100)  # page size at the maximum by default


# writes whose outcome is unknown -------------------------------------------------------------


def test_post_that_times_out_is_not_retried(fresh_sandbox: ThreadServer) -> None:
    srv = fresh_sandbox
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": "jobs"}).json()
    template = next(iter(snap["jobs"].values()))
    body = {
        "title": "Created Once",
        "location": {"countryCode": "de", "city": "Berlin"},
        **{k: {"id": template[k]["id"]} for k in ("industry", "function", "experienceLevel")},
    }
    control(srv, "faults", {"spec": "timeout=1.0", "timeoutSeconds": 1.5})
    before = stats(srv)
    try:

        async def go() -> tuple[OutcomeUnknownError, int]:
            async with SmartRecruitersClient(settings_for(srv, timeout=0.3), backoff=FAST) as sr:
                with pytest.raises(OutcomeUnknownError) as exc:
                    await sr.jobs.create(body)
                return exc.value, sr.calls

        err, calls = asyncio.run(go())
        after = stats(srv)
    finally:
        control(srv, "faults", {"spec": ""})
    assert err.method == "POST" and err.path == "/jobs" and "not retried" in str(err)
    assert calls == 1
    assert after["stats"]["requests"] - before["stats"].get("requests", 0) == 1
    assert after["counts"]["jobs"] - before["counts"]["jobs"] == 1  # exactly one state change
    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", params={"include": "jobs"}).json()
    assert [j["title"] for j in snap["jobs"].values()].count("Created Once") == 1
