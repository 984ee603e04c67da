"""v1 webhook signatures: the documentation's worked example, and sign/verify round trips."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest
import yaml

from syncd.sandbox.signature import (
    parse_signature_header,
    sign,
    signature_header,
    signed_content,
    verify,
    verify_request,
)

PARTS: dict[str, str | bytes] = dict(
    timestamp="1700000000",
    body=b'{"job_id":"j1","candidate_id":"c1","application_id":"a1"}',
    event_id="e-1",
    event_name="application.status.updated",
    event_version="v201910",
    link="<http://127.0.0.1:8000/candidates/c1/jobs/j1>; rel=self",
)


def _example(shared_dir: Path) -> dict[str, str]:
    """The inputs of the worked example in ``POST …/secret-key``'s description, read from the
    spec rather than copied, so a change there shows up here."""
    spec = yaml.safe_load(
        (shared_dir / "specs/smartrecruiters/smartrecruiters-openapi.prefixed.yaml").read_text()
    )
    text = spec["paths"]["/webhooks-api/v201907/subscriptions/{id}/secret-key"]["post"][
        "description"
    ]

    def grab(pattern: str) -> str:
        m = re.search(pattern, text)
        assert m, f"pattern {pattern!r} not found in the spec's signature example"
        return m.group(1)

    ex = {
        "key": grab(r"active secret key: (\S+)"),
        "timestamp": grab(r'smartrecruiters-timestamp = "(\d+)"'),
        "event_id": grab(r'event-id = "([^"]+)"'),
        "link": grab(r'link = "([^"]+)"'),
        "event_name": grab(r'event-name = "([^"]+)"'),
        "event_version": grab(r'event-version = "([^"]+)"'),
        "content": grab(r"calculated from value:\n```\n(.+)\n```"),
        "expected": grab(r"header in the callback request will have value:\n`([^`]+)`"),
    }
    # The bullet list shows the body with a space after a colon; the signed value (the code
    # block) has none, and only that one gives the documented hash. Take the body from there.
    head = ex["timestamp"] + "."
    tail = "." + ".".join((ex["event_id"], ex["event_name"], ex["event_version"], ex["link"]))
    assert ex["content"].startswith(head) and ex["content"].endswith(tail)
    ex["body"] = ex["content"][len(head) : -len(tail)]
    return ex


def test_worked_example_from_the_spec(shared_dir: Path) -> None:
    ex = _example(shared_dir)
    assert ex["key"] == "HeBVky2bccvvkcXPimH8c"
    assert ex["expected"] == "v1=2e9291f10d44ca10204a4cd81b05d73b6a316b2b605d4e2e0e0b37b40198ce1f"
    parts = {
        k: ex[k] for k in ("timestamp", "body", "event_id", "event_name", "event_version", "link")
    }
    assert signed_content(**parts) == ex["content"].encode()
    assert signature_header([ex["key"]], **parts) == ex["expected"]
    assert verify(ex["key"], ex["expected"], **parts)
    headers = {
        "smartrecruiters-signature": ex["expected"],
        "smartrecruiters-timestamp": ex["timestamp"],
        "event-id": ex["event_id"],
        "Link": ex["link"],
        "event-name": ex["event_name"],
        "Event-Version": ex["event_version"],
    }
    assert verify_request(ex["key"], headers, ex["body"].encode(), tolerance_seconds=None).ok


def test_sign_is_hmac_sha256_over_dot_joined_parts() -> None:
    content = (
        b"1700000000."
        + b'{"job_id":"j1","candidate_id":"c1","application_id":"a1"}'
        + b".e-1.application.status.updated.v201910."
        + str(PARTS["link"]).encode()
    )
    expected = hmac.new(b"k", content, hashlib.sha256).hexdigest()
    assert sign("k", **PARTS) == expected
    assert sign(b"k", **PARTS) == expected


def test_missing_parts_count_as_empty_strings() -> None:
    assert signed_content(timestamp="1", body="{}") == b"1.{}...."
    assert sign("k", timestamp="1", body="{}") == sign(
        "k", timestamp="1", body="{}", event_id="", event_name="", event_version="", link=""
    )


def test_round_trip_and_tampering() -> None:
    header = signature_header(["key-a"], **PARTS)
    assert verify("key-a", header, **PARTS)
    assert not verify("key-b", header, **PARTS)
    tampered: list[tuple[str, str | bytes]] = [
        ("body", b'{"job_id":"j2","candidate_id":"c1","application_id":"a1"}'),
        ("timestamp", "1700000001"),
        ("event_id", "e-2"),
        ("event_name", "application.created"),
        ("event_version", "v201907"),
        ("link", ""),
    ]
    for name, value in tampered:
        changed = {**PARTS, name: value}
        assert not verify("key-a", header, **changed), name


def test_several_keys_while_rotating() -> None:
    header = signature_header(["new", "old"], **PARTS)
    entries = parse_signature_header(header)
    assert [scheme for scheme, _ in entries] == ["v1", "v1"]
    assert verify("new", header, **PARTS)
    assert verify("old", header, **PARTS)
    assert verify(["unrelated", "old"], header, **PARTS)
    assert not verify(["unrelated"], header, **PARTS)
    assert not verify([], header, **PARTS)


def test_parse_skips_unknown_schemes_and_junk() -> None:
    digest = sign("k", **PARTS)
    header = f" v2=abc ; junk ;;v1={digest.upper()}; v1= "
    assert parse_signature_header(header) == [("v2", "abc"), ("v1", digest.upper())]
    assert verify("k", header, **PARTS)
    assert not verify("k", "v2=" + digest, **PARTS)
    assert not verify("k", "", **PARTS)


def _headers(key: str, ts: str) -> dict[str, str]:
    parts = {**PARTS, "timestamp": ts}
    return {
        "smartrecruiters-signature": signature_header([key], **parts),
        "smartrecruiters-timestamp": ts,
        "event-id": str(PARTS["event_id"]),
        "event-name": str(PARTS["event_name"]),
        "event-version": str(PARTS["event_version"]),
        "link": str(PARTS["link"]),
    }


def test_verify_request_checks_freshness() -> None:
    body = PARTS["body"]
    assert isinstance(body, bytes)
    h = _headers("k", "1700000000")
    assert verify_request("k", h, body, now=1700000100).ok
    stale = verify_request("k", h, body, now=1700001000)
    assert not stale.ok and "replayed" in stale.reason
    assert verify_request("k", h, body, now=1700001000, tolerance_seconds=None).ok
    bad = verify_request("other", h, body, now=1700000000)
    assert not bad.ok and "other" not in bad.reason and bad.reason != "k"
    missing = verify_request("k", {"smartrecruiters-timestamp": "1"}, body)
    assert not missing.ok and "smartrecruiters-signature" in missing.reason


@pytest.mark.parametrize("ts", ["", "soon"])
def test_verify_request_rejects_bad_timestamp(ts: str) -> None:
    h = _headers("k", "1700000000")
    h["smartrecruiters-timestamp"] = ts
    body = PARTS["body"]
    assert isinstance(body, bytes)
    v = verify_request("k", h, body, now=1700000000)
    assert not v.ok and "smartrecruiters-timestamp" in v.reason


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1795900602", 1795900602),
        ("0", 0),
        ("nan", None),
        ("inf", None),
        ("1e20", None),
        ("1795900602.5", None),
        ("-1", None),
        ("", None),
        ("1" * 13, None),
    ],
)
def test_timestamps_are_whole_seconds_or_refused(value: str, seconds: int | None) -> None:
    from syncd.sandbox.signature import parse_timestamp, signature_header, verify_request

    assert parse_timestamp(value) == seconds
    # Signed as it is: only a whole-seconds timestamp near now passes the staleness check.
    headers = {
        "smartrecruiters-timestamp": value,
        "smartrecruiters-signature": signature_header(["k"], timestamp=value, body=b"{}"),
    }
    verdict = verify_request(["k"], headers, b"{}", now=float(seconds or 0))
    assert verdict.ok is (seconds is not None)
