"""Per-credential limits as the API enforces them: a token bucket of 10 requests/s, 8 requests in
flight, 1 ``GET /candidates`` in flight, and 2 requests/s on publication endpoints."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field


@dataclass
class Bucket:
    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> bool:
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def remaining(self) -> int:
        self._refill()
        return int(self.tokens)


@dataclass
class LimitConfig:
    enabled: bool = True
    rate: float = 10.0
    concurrent: int = 8
    candidates_concurrent: int = 1
    publication_rate: float = 2.0


# Job publish/unpublish and offer documents (the spec has them at /offers/{offerId}/documents).
PUBLICATION = re.compile(
    r"^/jobs/[^/]+/(publication|jobads/[^/]+/postings)$"
    r"|^(/candidates/[^/]+/jobs/[^/]+)?/offers/[^/]+/documents"
)


@dataclass
class CredentialLimits:
    config: LimitConfig
    bucket: Bucket = field(init=False)
    publication: Bucket = field(init=False)
    in_flight: int = 0
    candidates_in_flight: int = 0

    def __post_init__(self) -> None:
        self.bucket = Bucket(self.config.rate, self.config.rate)
        self.publication = Bucket(self.config.publication_rate, self.config.publication_rate)


class Limiter:
    def __init__(self, config: LimitConfig) -> None:
        self.config = config
        self.by_credential: dict[str, CredentialLimits] = {}
        self.rejected = 0

    def for_credential(self, key: str) -> CredentialLimits:
        lim = self.by_credential.get(key)
        if lim is None:
            lim = self.by_credential[key] = CredentialLimits(self.config)
        return lim

    def admit(self, key: str, method: str, path: str) -> tuple[str | None, CredentialLimits]:
        """Reserve a slot: (reason it was refused, limits). Call ``release`` after a success."""
        lim = self.for_credential(key)
        if not self.config.enabled:
            lim.in_flight += 1
            return None, lim
        is_candidates = method == "GET" and path == "/candidates"
        if lim.in_flight >= self.config.concurrent:
            reason = "Too many concurrent requests"
        elif is_candidates and lim.candidates_in_flight >= self.config.candidates_concurrent:
            reason = "Too many concurrent GET /candidates requests"
        elif PUBLICATION.match(path) and not lim.publication.take():
            reason = "Rate limit exceeded for publication endpoints"
        elif not lim.bucket.take():
            reason = "Rate limit exceeded"
        else:
            lim.in_flight += 1
            if is_candidates:
                lim.candidates_in_flight += 1
            return None, lim
        self.rejected += 1
        return reason, lim

    def release(self, lim: CredentialLimits, method: str, path: str) -> None:
        lim.in_flight -= 1
        if self.config.enabled and method == "GET" and path == "/candidates":
            lim.candidates_in_flight -= 1

    def headers(self, lim: CredentialLimits) -> list[tuple[bytes, bytes]]:
        c = self.config
        return [
            (b"x-ratelimit-limit", str(int(c.rate)).encode()),
            (b"x-ratelimit-remaining", str(lim.bucket.remaining()).encode()),
            (b"x-ratelimit-concurrent-limit", str(c.concurrent).encode()),
            (
                b"x-ratelimit-concurrent-remaining",
                str(max(0, c.concurrent - lim.in_flight)).encode(),
            ),
        ]
