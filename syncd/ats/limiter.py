"""The client-side limiter: one per credential, shared by every caller of that credential.

It keeps under the API's per-credential limits instead of discovering them through 429s:
a token bucket (10 requests/s), a cap on requests in flight (8), a separate cap on concurrent
``GET /candidates`` (1), and a slower bucket for publication endpoints (2 requests/s). It also
listens to the server: ``X-RateLimit-Remaining`` running low, or a 429, pauses every caller of
the credential until the server's bucket has had time to refill.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

# The API rate-limits job publication and offer documents separately (SMARTRECRUITERS.md).
PUBLICATION_PATH = re.compile(
    r"^/jobs/[^/]+/(publication|jobads/[^/]+/postings)$"
    r"|^/candidates/[^/]+/jobs/[^/]+/offers/[^/]+/documents"
)


@dataclass(frozen=True)
class LimitSettings:
    rate: float = 10.0
    max_concurrency: int = 8
    candidates_concurrency: int = 1
    publication_rate: float = 2.0
    # Burst of 1: requests leave evenly spaced, so the server's bucket stays nearly full and
    # absorbs jitter between our clock and its clock.
    burst: float = 1.0
    # When the server says fewer than this many requests remain, wait for its bucket to refill.
    low_water: int = 2


class TokenBucket:
    """FIFO token bucket: ``acquire`` waits for the next free slot."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def delay(self) -> float:
        """Seconds until a token is available (0 when one is), without taking it."""
        now = self.clock()
        self._refill(now)
        wait = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
        return max(wait, self.paused_until - now)

    async def acquire(self, sleep: Callable[[float], object] = asyncio.sleep) -> None:
        async with self._lock:  # one waiter at a time keeps the order fair
            while True:
                wait = self.delay()
                if wait <= 0:
                    self.tokens -= 1.0
                    return
                await sleep(wait)  # type: ignore[misc]

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` and empty the bucket (server said slow down)."""
        now = self.clock()
        self.paused_until = max(self.paused_until, now + seconds)
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)


class CredentialLimiter:
    def __init__(
        self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.bucket = TokenBucket(settings.rate, settings.burst, clock)
        self.publication = TokenBucket(settings.publication_rate, 1.0, clock)
        self.in_flight = asyncio.Semaphore(settings.max_concurrency)
        self.candidates = asyncio.Semaphore(settings.candidates_concurrency)
        self.active = 0
        self.peak_active = 0
        self.paused = 0

    @staticmethod
    def is_candidates_list(method: str, path: str) -> bool:
        return method == "GET" and path.rstrip("/") == "/candidates"

    @contextlib.asynccontextmanager
    async def slot(self, method: str, path: str) -> AsyncIterator[None]:
        """Hold a place for one request: the candidates cap, then the in-flight cap, then a
        token (taken last, so a request waiting for a concurrency slot does not waste one)."""
        async with contextlib.AsyncExitStack() as stack:
            if self.is_candidates_list(method, path):
                await stack.enter_async_context(self.candidates)
            await stack.enter_async_context(self.in_flight)
            if PUBLICATION_PATH.match(path):
                await self.publication.acquire()
            await self.bucket.acquire()
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
            try:
                yield
            finally:
                self.active -= 1

    def observe(self, remaining: int | None) -> None:
        """Feed ``X-RateLimit-Remaining`` back: near zero, wait until the server refilled."""
        if remaining is None:
            return
        low = self.settings.low_water
        if remaining < low:
            self.paused += 1
            self.bucket.pause((low - remaining) / self.settings.rate)

    def throttled(self, wait: float) -> None:
        """A 429: every caller of this credential waits, not just the one refused."""
        self.paused += 1
        self.bucket.pause(wait)


_registry: weakref.WeakValueDictionary[tuple[object, ...], CredentialLimiter] = (
    weakref.WeakValueDictionary()
)


def limiter_for(credential_key: str, settings: LimitSettings) -> CredentialLimiter:
    """The limiter of one credential in this event loop; created on first use. Clients of the same
    credential share it while any of them is alive."""
    loop = asyncio.get_running_loop()
    key = (id(loop), credential_key, settings)
    lim = _registry.get(key)
    if lim is None:
        lim = CredentialLimiter(settings)
        _registry[key] = lim
    return lim
