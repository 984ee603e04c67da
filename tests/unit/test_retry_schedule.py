"""The push's retry schedule (docs/push.md, "Retries"): the waits between attempts with the
defaults, the jitter's bounds, and a Retry-After honoured up to ``retry_max_seconds``."""

from __future__ import annotations

import pytest

from syncd.delivery.dispatcher import retry_delay
from syncd.sinks.config import SinkConfig


def test_the_default_schedule_spreads_max_attempts_over_1h45() -> None:
    cfg = SinkConfig(type="webhook")
    waits = [retry_delay(n, cfg, rnd=0.0) for n in range(1, cfg.max_attempts)]
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900, 900, 900, 900]
    # The last attempt before a dead letter comes no sooner than this after the first.
    assert sum(waits) == 6330  # 1 h 45 min 30 s


def test_jitter_only_adds_up_to_a_fifth() -> None:
    cfg = SinkConfig(type="webhook")
    assert retry_delay(3, cfg, rnd=1.0) == pytest.approx(120 * 1.2)
    for _ in range(200):
        assert 900 <= retry_delay(20, cfg) <= 1080


def test_retry_after_is_honoured_up_to_retry_max_seconds() -> None:
    cfg = SinkConfig(type="webhook", retry_initial_seconds=1, retry_max_seconds=60)
    assert retry_delay(1, cfg, 45.0, rnd=0.0) == 45.0
    assert retry_delay(1, cfg, 3600.0, rnd=0.0) == 60.0  # a daily quota: asked again in 60 s
    assert retry_delay(1, cfg, None, rnd=0.0) == 1.0
