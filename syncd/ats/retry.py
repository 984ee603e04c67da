"""When to retry, and how long to wait.

- 429: always retried (the server refused the request before doing anything), waiting
  ``Retry-After`` when sent, else exponential backoff with full jitter.
- 503: retried for every method: the server refused the request.
- other 5xx, timeouts after sending, resets, truncated 2xx bodies: retried only for idempotent
  methods. For POST/PATCH the outcome is unknown and the caller gets ``OutcomeUnknownError``.
- failures before the request left (connect errors, pool timeouts): retried for every method.
Attempts and total time are both bounded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from time import time as wall_time

import structlog

log = structlog.get_logger("syncd.ats")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass
class Backoff:
    base: float = 0.25
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [base/2, min(cap, base * 2**attempt)] (attempt counts from 0)."""
        ceiling = min(self.cap, self.base * (2**attempt))
        return self.rng.uniform(min(self.base / 2, ceiling), ceiling)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (wall_time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 8
    max_seconds: float = 300.0

    def allows(self, retries_done: int, elapsed: float, next_wait: float) -> bool:
        return retries_done < self.max_retries and elapsed + next_wait <= self.max_seconds


def log_retry(
    method: str,
    path: str,
    attempt: int,
    wait: float,
    status: int | None,
    reason: str,
    *,
    retries: int,
    throttled: int,
) -> None:
    """One info line per retry: the request (method and path; never the query or headers),
    which attempt failed, why (``HTTP 429``, or the transport's reason), the wait, and the
    client's counts so far (``retries``, ``throttled``: 429 answers). The caller's bound context
    (``tenant``, ``resource``, ``run_id``) names whose request it was."""
    log.info(
        "api_retry",
        method=method,
        path=path,
        attempt=attempt,
        reason=f"HTTP {status}" if status is not None else reason,
        wait_seconds=round(wait, 2),
        retries=retries,
        throttled=throttled,
    )
