"""Faults on demand for the HRIS sandboxes: queued bursts (``the next 3 creates answer 503``) and
seeded random rates (``503=0.05,lost=0.02``), both limited to named operations.

Kinds (what a client sees, and whether the request was handled):
- ``503``: refused with 503 before it is handled (nothing written).
- ``429``: refused with 429 and ``Retry-After`` before it is handled (nothing written).
- ``timeout``: held for ``timeout_seconds``, never handled, then answered 504 (nothing written;
  a client with a shorter read timeout does not know that).
- ``lost``: handled (a create IS written), then the connection is dropped before the answer's
  body: the client sees a protocol error and never learns the new id.
- ``slow``: handled (written), then the answer is held back for ``timeout_seconds``: the client
  times out and never learns the new id.
- ``hang``: the connection is accepted and the request is never handled nor answered, for as
  long as the plan that drew it is in force: replacing the plan (``POST /_sandbox/faults``, a
  reset) releases every hung request with a 504 (nothing written), as when the HRIS recovers
  after the client has given up. A rule with a large ``count`` hangs every such request.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass

KINDS = ("503", "429", "timeout", "lost", "slow", "hang")


class FaultSpecError(ValueError):
    """A fault request that cannot be understood; the message names the field and the fix."""


@dataclass
class FaultRule:
    """``count`` more requests of operation ``op`` (any API operation when None) get ``kind``."""

    kind: str
    count: int = 1
    op: str | None = None
    retry_after: int = 1

    def matches(self, op: str) -> bool:
        return self.count > 0 and (self.op is None or self.op == op)


def parse_rates(spec: str) -> dict[str, float]:
    """``"503=0.05,429=0.05,lost=0.02"`` -> ``{"503": 0.05, ...}``; raises FaultSpecError."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise FaultSpecError(f"rates: '{part}' is not NAME=RATE, e.g. 503=0.05")
        if name not in KINDS:
            raise FaultSpecError(f"rates: unknown fault '{name}'; use one of {', '.join(KINDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise FaultSpecError(f"rates: '{name}' must be a number, got '{value}'") from None
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"rates: '{name}' must be between 0 and 1")
        rates[name] = rate
    if sum(rates.values()) > 1.0:
        raise FaultSpecError("rates: the rates add up to more than 1")
    return rates


class Faults:
    """The live fault plan of one sandbox: the queue is consumed first, in order; otherwise a
    seeded draw against ``rates`` for requests whose operation is in ``rate_ops`` (all when
    None). The same plan and seed give the same faults in the same order."""

    def __init__(
        self,
        seed: int,
        queue: list[FaultRule] | None = None,
        rates: dict[str, float] | None = None,
        rate_ops: frozenset[str] | None = None,
        timeout_seconds: float = 30.0,
        retry_after: int = 1,
    ) -> None:
        self.seed = seed
        self.queue = queue or []
        self.rates = rates or {}
        self.rate_ops = rate_ops
        self.timeout_seconds = timeout_seconds
        self.retry_after = retry_after
        self.rng = random.Random(seed * 7919 + 31)
        self.counts: Counter[str] = Counter()
        # Set when the plan is replaced: the requests it hung are let go.
        self.released = asyncio.Event()
        self.hanging = 0  # requests held by a ``hang`` right now
        # Seconds each hung request's client waited before it disconnected (gave up).
        self.abandoned: list[float] = []

    def release(self) -> None:
        """Let every request this plan hangs go (the plan is being replaced)."""
        self.released.set()

    def draw(self, op: str) -> FaultRule | None:
        """The fault for the next request of operation ``op``, or None; counted in ``counts``."""
        for rule in self.queue:
            if rule.matches(op):
                rule.count -= 1
                self.counts[rule.kind] += 1
                return rule
        if not self.rates or (self.rate_ops is not None and op not in self.rate_ops):
            return None
        x = self.rng.random()
        acc = 0.0
        for kind in KINDS:
            acc += self.rates.get(kind, 0.0)
            if x < acc:
                self.counts[kind] += 1
                return FaultRule(kind, 0, op, self.retry_after)
        return None

    def describe(self) -> dict[str, object]:
        return {
            "queue": [
                {"kind": r.kind, "count": r.count, "op": r.op, "retryAfter": r.retry_after}
                for r in self.queue
                if r.count > 0
            ],
            "rates": self.rates,
            "rateOps": sorted(self.rate_ops) if self.rate_ops is not None else None,
            "timeoutSeconds": self.timeout_seconds,
            "seed": self.seed,
            "hanging": self.hanging,
            "abandoned": list(self.abandoned),
        }
