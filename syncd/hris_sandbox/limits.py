"""Rate limits as each vendor documents them, as token buckets keyed per credential, per client
address or per company. A refusal says how long until the bucket has a token again, which is
what ``Retry-After`` carries."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from syncd.sandbox.limits import Bucket


@dataclass(frozen=True)
class LimitRule:
    """``capacity`` requests at once, refilled at ``per_second``; applies to ``ops`` (all when
    None); ``scope`` says what one bucket counts: ``credential``, ``address`` or ``company``."""

    name: str
    per_second: float
    capacity: float
    ops: frozenset[str] | None = None
    scope: str = "credential"


@dataclass
class Refusal:
    """Which rule refused, and the whole seconds until it has a token again."""

    rule: str
    retry_after: int


@dataclass
class Limiter:
    """Every bucket of one sandbox; ``enabled`` False admits everything."""

    rules: list[LimitRule]
    enabled: bool = True
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    refused: int = 0

    def admit(self, op: str, keys: Callable[[str], str]) -> Refusal | None:
        """Take one token from every bucket that applies to ``op``; ``keys(scope)`` gives the
        bucket key for a rule's scope. The first empty bucket refuses (nothing else is taken)."""
        if not self.enabled:
            return None
        applying = [r for r in self.rules if r.ops is None or op in r.ops]
        for rule in applying:
            bucket = self._bucket(rule, keys(rule.scope))
            if bucket.remaining() < 1:  # refills, then counts whole tokens
                self.refused += 1
                wait = (1.0 - bucket.tokens) / rule.per_second
                return Refusal(rule.name, max(1, math.ceil(wait)))
        for rule in applying:
            self._bucket(rule, keys(rule.scope)).tokens -= 1.0
        return None

    def _bucket(self, rule: LimitRule, key: str) -> Bucket:
        b = self.buckets.get((rule.name, key))
        if b is None:
            b = self.buckets[(rule.name, key)] = Bucket(rule.per_second, rule.capacity)
        return b

    def describe(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "rules": [
                {
                    "name": r.name,
                    "perSecond": r.per_second,
                    "capacity": r.capacity,
                    "ops": sorted(r.ops) if r.ops is not None else None,
                    "scope": r.scope,
                }
                for r in self.rules
            ],
            "refused": self.refused,
        }
