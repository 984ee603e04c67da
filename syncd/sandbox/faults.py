"""Faults on demand, drawn from a seeded RNG so a run can be repeated.

Spec: ``429=0.05,500=0.02,timeout=0.01,reset=0.01,truncate=0.01,latency=50ms``.
- ``429``/``500``: the request is refused before it is handled.
- ``timeout``: the request IS handled, then the answer is held back for ``timeout_seconds``
  (a client that gives up does not know whether a write happened).
- ``reset``: the connection drops after the status line, before any body.
- ``truncate``: the request is handled and the body is cut in half (Content-Length matches the cut
  body, so only a client that checks what it parses notices).
- ``latency``: added to every request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KINDS = ("429", "500", "timeout", "reset", "truncate")


class FaultSpecError(ValueError):
    pass


@dataclass
class FaultPlan:
    rates: dict[str, float]
    latency: float = 0.0
    timeout_seconds: float = 30.0

    @classmethod
    def parse(cls, spec: str, timeout_seconds: float = 30.0) -> FaultPlan:
        rates: dict[str, float] = {}
        latency = 0.0
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(f"fault '{part}': expected NAME=VALUE, e.g. 500=0.02")
            name = name.strip().lower()
            value = value.strip()
            if name == "latency":
                latency = _duration(value)
                continue
            if name not in KINDS:
                raise FaultSpecError(
                    f"fault '{name}': unknown; use one of {', '.join(KINDS)} or latency"
                )
            try:
                rate = float(value)
            except ValueError:
                raise FaultSpecError(
                    f"fault '{name}': rate must be a number, got '{value}'"
                ) from None
            if not 0.0 <= rate <= 1.0:
                raise FaultSpecError(f"fault '{name}': rate must be between 0 and 1")
            rates[name] = rate
        if sum(rates.values()) > 1.0:
            raise FaultSpecError("fault rates add up to more than 1")
        return cls(rates, latency, timeout_seconds)

    @property
    def active(self) -> bool:
        return bool(self.latency) or any(self.rates.values())


def _duration(value: str) -> float:
    v = value.lower()
    try:
        if v.endswith("ms"):
            return float(v[:-2]) / 1000.0
        if v.endswith("s"):
            return float(v[:-1])
        return float(v) / 1000.0
    except ValueError:
        raise FaultSpecError(f"latency: expected e.g. 50ms or 0.2s, got '{value}'") from None


class FaultInjector:
    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self.rng = random.Random(seed * 7919 + 17)
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)

    def draw(self) -> str | None:
        if not self.plan.rates:
            return None
        x = self.rng.random()
        acc = 0.0
        for kind in KINDS:
            acc += self.plan.rates.get(kind, 0.0)
            if x < acc:
                self.counts[kind] += 1
                return kind
        return None
