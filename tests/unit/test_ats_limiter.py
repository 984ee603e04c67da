"""The client-side limiter and backoff with a fake clock: no real waiting."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from syncd.ats.limiter import CredentialLimiter, LimitSettings, TokenBucket, limiter_for
from syncd.ats.retry import Backoff, RetryPolicy, retry_after_seconds


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_spaces_requests_at_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=10.0, burst=1.0, clock=t)

    async def run() -> list[float]:
        stamps = []
        for _ in range(20):
            await bucket.acquire(t.sleep)
            stamps.append(t.now)
        return stamps

    stamps = asyncio.run(run())
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(stamps)]
    assert gaps == [0.1] * 19  # never two tokens closer than 1/rate


def test_bucket_burst_then_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=2.0, burst=3.0, clock=t)

    async def run() -> list[float]:
        stamps = []
        for _ in range(5):
            await bucket.acquire(t.sleep)
            stamps.append(t.now - 1000.0)
        return stamps

    assert [round(s, 6) for s in asyncio.run(run())] == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_pause_holds_everyone_and_empties_the_bucket() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=10.0, burst=5.0, clock=t)
    bucket.pause(2.0)
    assert bucket.delay() == pytest.approx(2.0)
    t.now += 2.0
    # after the pause the bucket has refilled for 2 s, capped at the burst
    assert bucket.delay() == 0.0


def test_low_remaining_slows_down_and_healthy_remaining_does_not() -> None:
    async def run() -> tuple[float, float]:
        lim = CredentialLimiter(LimitSettings(rate=10.0, low_water=2))
        lim.observe(9)
        healthy = lim.bucket.delay()
        lim.observe(0)
        return healthy, lim.bucket.delay()

    healthy, low = asyncio.run(run())
    assert healthy == 0.0
    assert low == pytest.approx(0.2, abs=0.01)  # (2 - 0) / 10 req/s


def test_concurrency_caps_hold_under_many_callers() -> None:
    settings = LimitSettings(rate=1e6, burst=1e6, max_concurrency=3, candidates_concurrency=1)

    async def run() -> tuple[int, int]:
        lim = CredentialLimiter(settings)
        peak_cand = cand = 0

        async def call(path: str) -> None:
            nonlocal cand, peak_cand
            async with lim.slot("GET", path):
                if path == "/candidates":
                    cand += 1
                    peak_cand = max(peak_cand, cand)
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                if path == "/candidates":
                    cand -= 1

        await asyncio.gather(*(call("/candidates" if i % 2 else "/jobs") for i in range(40)))
        return lim.peak_active, peak_cand

    peak, peak_cand = asyncio.run(run())
    assert peak == 3
    assert peak_cand == 1


def test_publication_paths_use_the_slower_bucket() -> None:
    from syncd.ats.limiter import PUBLICATION_PATH

    assert PUBLICATION_PATH.match("/jobs/j1/publication")
    assert PUBLICATION_PATH.match("/jobs/j1/jobads/a1/postings")
    assert PUBLICATION_PATH.match("/candidates/c/jobs/j/offers/o/documents")
    assert not PUBLICATION_PATH.match("/jobs/j1")


def test_one_limiter_per_credential_within_a_loop() -> None:
    async def run() -> tuple[bool, bool]:
        s = LimitSettings()
        a, b, c = limiter_for("k1", s), limiter_for("k1", s), limiter_for("k2", s)
        return a is b, a is c

    same, other = asyncio.run(run())
    assert same and not other


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(base=0.5, cap=4.0, rng=random.Random(1))
    for attempt in range(10):
        for _ in range(50):
            d = b.delay(attempt)
            assert 0.25 <= d <= min(4.0, 0.5 * 2**attempt)


def test_retry_after_parses_seconds_and_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_retry_policy_bounds_attempts_and_time() -> None:
    p = RetryPolicy(max_retries=3, max_seconds=10.0)
    assert p.allows(0, 0.0, 1.0)
    assert not p.allows(3, 0.0, 1.0)
    assert not p.allows(1, 9.5, 1.0)
