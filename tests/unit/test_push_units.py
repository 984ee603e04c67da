"""Pure parts of the push side: answer classification and Retry-After, Standard Webhooks
signatures (verified with the package), write-back statuses, the files sink's CSV shape, sink
configuration errors, the registry."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from syncd.delivery.dispatcher import wanted_statuses
from syncd.sinks.base import Delivery, SinkError
from syncd.sinks.config import build_sink
from syncd.sinks.files import _csv, flatten
from syncd.sinks.registry import available, sink_class
from syncd.sinks.webhook import WebhookSettings, WebhookSink, classify, retry_after

SECRET = "whsec_" + base64.b64encode(b"unit-secret-0123456789").decode()


def answer(code: int, body: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(code, text=body, headers=headers)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (200, "accepted"),
        (201, "accepted"),
        (204, "accepted"),
        (400, "rejected"),
        (404, "rejected"),
        (409, "rejected"),
        (422, "rejected"),
        (401, "auth"),
        (403, "auth"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_classify(code: int, kind: str) -> None:
    assert classify(answer(code, "{}")).kind == kind


def test_rejection_keeps_the_body_and_acceptance_the_id() -> None:
    o = classify(answer(422, '{"message": "department unknown"}'))
    assert o.reason == '{"message": "department unknown"}' and o.status_code == 422
    assert classify(answer(201, '{"id": 42}')).target_id == "42"


def test_retry_after_seconds_and_date() -> None:
    assert retry_after(answer(429, **{"Retry-After": "7"})) == 7.0
    assert retry_after(answer(503)) is None
    assert retry_after(answer(503, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert classify(answer(429, **{"Retry-After": "3"})).retry_after == 3.0


def test_signature_verifies_with_the_standard_webhooks_package() -> None:
    sink = WebhookSink("hr", WebhookSettings(url="http://127.0.0.1:1/h"), SecretStr(SECRET))
    d = Delivery(
        "msg_1", "sr-a1", "application.hired", {"k": "v"}, datetime(2026, 11, 2, 8, tzinfo=UTC)
    )
    body, headers = sink.signed(d)
    payload = Webhook(SECRET).verify(body, headers)
    assert payload == {
        "type": "application.hired",
        "timestamp": "2026-11-02T08:00:00Z",
        "data": {"k": "v"},
    }
    assert headers["webhook-id"] == "msg_1"
    # The same delivery id on a second attempt; the body (without the time) is the same.
    body2, headers2 = sink.signed(d)
    assert headers2["webhook-id"] == "msg_1" and body2 == body
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"another-secret-000000").decode()).verify(
            body, headers
        )


@pytest.mark.parametrize(
    ("row", "want"),
    [
        ({"state": "delivered", "sink_status": None}, ["READY_TO_ONBOARD"]),
        (
            {"state": "delivered", "sink_status": "ONBOARDING_SUCCESSFUL"},
            ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"],
        ),
        ({"state": "rejected", "sink_status": None}, ["ONBOARDING_FAILED"]),
        ({"state": "dead", "sink_status": None}, []),
        ({"state": "pending", "sink_status": None}, []),
    ],
)
def test_wanted_statuses(row: dict[str, Any], want: list[str]) -> None:
    assert wanted_statuses(row) == want


def test_flatten_and_csv() -> None:
    rows = [
        {"event": "application.hired", "delivery_id": "m1", "external_key": "sr-1",
         **flatten({"candidate": {"first_name": "Ada", "tags": ["a"]}, "offer": None})},
    ]  # fmt: skip
    text = _csv(rows).decode().splitlines()
    assert text[0] == "event,delivery_id,external_key,candidate.first_name,candidate.tags,offer"
    assert text[1] == 'application.hired,m1,sr-1,Ada,"[""a""]",'


def test_registry() -> None:
    assert available()["webhook"] == "syncd.sinks.webhook:WebhookSink"
    assert sink_class("files").type == "files"
    with pytest.raises(
        SinkError,
        match=r"unknown sink type 'bamboo' \(did you mean bamboohr\?\); installed: bamboohr, "
        "files, personio, webhook",
    ):
        sink_class("bamboo")
    with pytest.raises(SinkError, match=r"unknown sink type 'zzz'; installed: bamboohr"):
        sink_class("zzz")  # nothing near: no guess


def test_webhook_secret_must_be_whsec(tmp_path: Any) -> None:
    p = tmp_path / "s"
    p.write_text("plain-secret")
    with pytest.raises(
        SinkError, match=r"sinks\.hr: secret_file: the secret must start with whsec_"
    ):
        build_sink("hr", {"type": "webhook", "url": "http://x/h", "secret_file": str(p)})
    with pytest.raises(SinkError, match=r"sinks\.hr\.status_map: 'ok' maps to 'DONE'"):
        build_sink(
            "hr",
            {"type": "webhook", "url": "http://x/h", "status_map": {"ok": "DONE"}},
        )


def test_updated_records_carry_changed_fields_but_no_personal_data() -> None:
    from syncd.mirror.store import UpsertResult
    from syncd.sync.changes import change_records

    old = {"id": "c1", "first_name": "Ada", "email": "a@example.com", "consent_status": "PENDING",
           "updated_on": datetime(2026, 1, 1), "raw": {}, "content_hash": "1"}  # fmt: skip
    new = {**old, "first_name": "Eve", "email": "e@example.com", "consent_status": "ACQUIRED",
           "updated_on": datetime(2026, 1, 2), "raw": {"x": 1}, "content_hash": "2"}  # fmt: skip
    (change,) = change_records("candidates", UpsertResult(updated=[(old, new)]), full=False)
    assert change.kind == "updated"
    assert change.data == {
        "changed": {
            "consent_status": ["PENDING", "ACQUIRED"],
            "updated_on": ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"],
        }
    }


def test_a_move_away_from_hired_is_a_revocation() -> None:
    from syncd.mirror.store import UpsertResult
    from syncd.sync.changes import change_records

    old = {"candidate_id": "c", "job_id": "j", "status": "HIRED", "raw": {}, "content_hash": "1"}
    new = {**old, "status": "WITHDRAWN", "content_hash": "2"}
    kinds = [c.kind for c in change_records("applications", UpsertResult(updated=[(old, new)]),
                                            full=False)]  # fmt: skip
    assert kinds == ["updated", "status_changed", "hire_revoked"]


@pytest.mark.parametrize(
    ("events", "revoked_at", "want"),
    [
        ([], None, []),
        # A hire seen again without a revocation between is the same round: nothing to add.
        ([(5, "hired")], None, []),
        # Revoked, hired again: the revocation of round 1 and round 2.
        (
            [(3, "hire_revoked"), (7, "hired")],
            None,
            [("application.hire_revoked", 1, 3), ("application.hired", 2, 7)],
        ),
        # The round-1 revocation already recorded (a sink that can revoke): the rehire after it.
        (
            [(7, "hired")],
            3,
            [("application.hire_revoked", 1, 3), ("application.hired", 2, 7)],
        ),
        # Twice revoked and rehired, a second revocation with no hire between counted once.
        (
            [
                (2, "hire_revoked"),
                (3, "hire_revoked"),
                (4, "hired"),
                (6, "hire_revoked"),
                (8, "hired"),
                (9, "hired"),
            ],
            None,
            [
                ("application.hire_revoked", 1, 2),
                ("application.hired", 2, 4),
                ("application.hire_revoked", 2, 6),
                ("application.hired", 3, 8),
            ],
        ),
    ],
)
def test_migration_0010_replays_the_dispatchers_round_rule(
    events: list[tuple[int, str]], revoked_at: int | None, want: list[tuple[str, int, int]]
) -> None:
    import importlib

    m = importlib.import_module("syncd.mirror.migrations.versions.0010_onboarding_write_round")
    assert m.replay(events, revoked_at) == want


@pytest.mark.parametrize(
    ("written", "row", "want"),
    [
        # Nothing written yet: READY then the outcome.
        (None, (1, "delivered", "ONBOARDING_SUCCESSFUL"),
         ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]),
        # Round 1 final: nothing more for round 1 …
        ((1, "ONBOARDING_SUCCESSFUL"), (1, "delivered", "ONBOARDING_SUCCESSFUL"), []),
        # … and a rehire (round 2) starts again from READY.
        ((1, "ONBOARDING_SUCCESSFUL"), (2, "delivered", "ONBOARDING_SUCCESSFUL"),
         ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]),
        ((1, "ONBOARDING_FAILED"), (2, "delivered", None), ["READY_TO_ONBOARD"]),
        ((2, "READY_TO_ONBOARD"), (2, "delivered", "ONBOARDING_SUCCESSFUL"),
         ["ONBOARDING_SUCCESSFUL"]),
        # Never back from a final value within a round.
        ((2, "ONBOARDING_FAILED"), (2, "delivered", None), []),
        # A write for a later round (another sink numbers the hires further) is left alone.
        ((3, "READY_TO_ONBOARD"), (2, "delivered", "ONBOARDING_SUCCESSFUL"), []),
    ],
)  # fmt: skip
def test_write_back_follows_the_hire_round(
    written: tuple[int, str] | None, row: tuple[int, str, str | None], want: list[str]
) -> None:
    """The dispatcher's write-back over a stub mirror: which statuses each due hire writes."""
    import asyncio
    from unittest import mock

    from syncd.delivery import dispatcher

    n, state, sink_status = row
    due = {"candidate_id": "c", "job_id": "j", "hire_round": n, "state": state,
           "sink_status": sink_status}  # fmt: skip
    calls: list[Any] = []

    async def write_back(c: list[Any]) -> None:
        calls.extend(c)

    d = dispatcher.Dispatcher(mock.MagicMock(), "t", write_back=write_back)
    cs = mock.MagicMock()
    cs.name = "hr"
    with (
        mock.patch.object(dispatcher.q, "writeback_due", return_value=[due]),
        mock.patch.object(
            dispatcher.q,
            "written_statuses",
            return_value={("c", "j"): written} if written else {},
        ),
    ):
        asyncio.run(d._write_back(cs))
    assert calls == [(("c", "j"), n, s) for s in want]
