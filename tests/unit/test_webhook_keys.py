"""Webhook signing keys read from the Webhooks API: one that is not visible ASCII is left out
and named by its subscription only (the API is faked here; the daemon's own reading of the
sandbox's keys is in tests/integration/test_daemon_webhooks.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from syncd.config import WebhooksSettings, header_safe
from syncd.daemon.hooks_in import HookIntake

URL = "https://syncd.example.com/webhooks/smartrecruiters"


class FakeWebhooks:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    async def pages(self) -> AsyncIterator[Any]:
        yield SimpleNamespace(items=[{"id": sid, "callbackUrl": URL} for sid in self.keys])

    async def secret_key(self, sid: str) -> dict[str, str]:
        return {"secretKey": self.keys[sid]}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("neRPYWsCmG4vzY-VEQvp9uRnBorUeqWa", True),
        ("!~", True),
        ("", False),
        ("two words", False),
        ("tab\there", False),
        ("line\n", False),
        ("caf\u00e9", False),
        ("x" * 1025, False),
    ],
)
def test_header_safe(value: str, ok: bool) -> None:
    assert header_safe(value) is ok


def test_keys_read_from_the_api_outside_the_rule_are_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from syncd.logging import configure_logging

    configure_logging("info", "json")
    good, bad = "Tk8jDvVKH6JfWb2K4AR84-kmQkBISeLS", "neRPYW sCmG4vzY\u00e9"
    daemon = SimpleNamespace(
        settings=SimpleNamespace(webhooks=WebhooksSettings(callback_url=URL)),
        sr=SimpleNamespace(webhooks=FakeWebhooks({"sub-good": good, "sub-bad": bad})),
        db=SimpleNamespace(dialect=SimpleNamespace(name="sqlite")),
    )
    intake = HookIntake(daemon)
    asyncio.run(intake.load_keys())
    assert intake.keys == [good]
    err = capsys.readouterr().err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    refused = [e for e in events if e["event"] == "webhook_key_refused"]
    assert [e["subscription"] for e in refused] == ["sub-bad"]
    assert "sCmG4vzY" not in err and good not in err
