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


class FakeObserver:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def job_failed(self, job: str) -> None:
        self.failed.append(job)


class FakeDaemon:
    """A leader whose refresh refuses any run that includes ``poison`` (as a record the mapping
    cannot take would), recording the id lists it refreshed."""

    def __init__(self, poison: str) -> None:
        self.settings = SimpleNamespace(webhooks=WebhooksSettings())
        self.db = SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))
        self.role, self.stopping = "leader", False
        self.observer = FakeObserver()
        self.poison = poison
        self.done: list[list[str]] = []

    async def refresh(self, name: str, ids: list[str], also: Any = None) -> None:
        if self.poison in ids:
            raise ValueError("refused")
        self.done.append(list(ids))


def test_one_bad_record_never_stops_the_rest_of_a_refresh_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from syncd.logging import configure_logging

    configure_logging("info", "json")
    good = ["00279b73-b774-4ae2-9a64-ded6ed81fe60", "1b35411b-7272-4b9c-af44-c0d53ee4da5a"]
    poison = "5d1b5a0e-4f7e-4b8e-9c8a-1d0c8f0e2b11"
    daemon = FakeDaemon(poison)
    intake = HookIntake(daemon)
    ids = [good[0], "bad/id", poison, good[1]]
    asyncio.run(intake._refresh_isolated("candidates", ids))
    # The malformed id is left out before any run; the batch with the poison fails, then each
    # record runs alone: both good ones are refreshed, two failures counted.
    assert daemon.done == [[good[0]], [good[1]]]
    assert intake.refreshed == 2
    assert daemon.observer.failed == ["webhook_refresh", "webhook_refresh"]
    err = capsys.readouterr().err
    failed = [json.loads(x) for x in err.splitlines() if "webhook_refresh_failed" in x]
    assert [e["records"] for e in failed] == [1, 1]
    assert poison not in err and "bad/id" not in err


def test_key_reads_are_rate_limited_whatever_asks(capsys: pytest.CaptureFixture[str]) -> None:
    from syncd.daemon import hooks_in
    from syncd.logging import configure_logging

    configure_logging("info", "json")

    daemon = SimpleNamespace(
        settings=SimpleNamespace(webhooks=WebhooksSettings(callback_url=URL)),
        sr=SimpleNamespace(webhooks=FakeWebhooks({"sub": "Tk8jDvVKH6JfWb2K4AR84-kmQkBISeLS"})),
        db=SimpleNamespace(dialect=SimpleNamespace(name="sqlite")),
    )
    intake = HookIntake(daemon)
    reads = 0
    real = intake._read_keys

    async def counted(url: str) -> None:
        nonlocal reads
        reads += 1
        await real(url)

    intake._read_keys = counted  # type: ignore[method-assign]

    async def attack() -> None:
        for _ in range(30):
            await intake.load_keys()

    asyncio.run(attack())
    assert reads == hooks_in.KEY_RELOAD_BURST


@pytest.mark.parametrize(
    ("tenants", "webhooks", "prefix"),
    [
        (False, {}, "SYNCD_WEBHOOKS__"),
        (True, {}, "SYNCD_TENANTS__ACME__WEBHOOKS__"),
        (False, {"secret_keys": ["k1"]}, None),
        (False, {"callback_url": URL}, None),
        (True, {"callback_url": URL}, None),
    ],
)
def test_a_start_without_keys_or_callback_url_warns_once_naming_the_settings(
    capsys: pytest.CaptureFixture[str],
    tenants: bool,
    webhooks: dict[str, Any],
    prefix: str | None,
) -> None:
    from syncd.config import Settings, SmartRecruitersSettings, TenantSettings
    from syncd.logging import configure_logging

    configure_logging("info", "json")
    if tenants:
        one = TenantSettings(
            smartrecruiters=SmartRecruitersSettings(api_key="k"),
            webhooks=WebhooksSettings(**webhooks),
        )
        settings = Settings(tenants={"acme": one}).for_tenant("acme")
    else:
        settings = Settings(webhooks=WebhooksSettings(**webhooks))
    daemon = SimpleNamespace(
        settings=settings, db=SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))
    )
    HookIntake(daemon).warn_without_keys()
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    warned = [e for e in events if e["event"] == "webhooks_without_keys"]
    if prefix is None:
        assert warned == []
        return
    assert len(warned) == 1 and warned[0]["level"] == "warning"
    assert warned[0]["path"] == (
        "/webhooks/smartrecruiters/acme" if tenants else "/webhooks/smartrecruiters"
    )
    assert warned[0]["fix"] == (
        f"set {prefix}CALLBACK_URL (then `syncd webhooks subscribe`: the keys are read from the "
        f"subscription) or {prefix}SECRET_KEYS"
    )
