"""SmartRecruiters webhooks into ``syncd run``: ``syncd webhooks subscribe`` makes the sandbox
handshake with the running daemon; a hire made in the sandbox arrives as a real signed callback,
the daemon refreshes the application by id and pushes the hire to the receiver with polling far
away (3600 s); bad, stale and replayed callbacks are refused and counted in /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, text

from syncd.mirror.lock import MirrorLock
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, listening_socket, serve_in_thread
from syncd.sandbox.signature import signature_header
from tests.conftest import TOKEN, sandbox_options
from tests.integration.daemon_env import (
    DaemonProc,
    by_labels,
    daemon_env,
    runs,
    sandbox_stats,
    start_daemon,
    wait_for,
)
from tests.integration.push_env import onboarding_writes, push_env, syncd_run, write_config
from tests.integration.test_daemon_leader import _role
from tests.integration.test_mirror_sync import TENANT, control
from tests.integration.test_push_webhook import candidates_to_hire, webhook_sink
from tests.receiver import ReceiverServer

WEBHOOKS = "/webhooks-api/v201907"
# The onboarding statuses webhook_sink writes back for a delivered hire the HRIS reads active.
WRITTEN_BACK = ["READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL"]


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=30, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def _sr(tenant: ThreadServer) -> httpx.Client:
    return httpx.Client(base_url=tenant.base_url, headers={"X-SmartToken": TOKEN}, timeout=30)


def _calls(d: DaemonProc) -> dict[str, float]:
    out: dict[str, float] = {}
    for (name, labels), v in d.metrics().items():
        if name == "syncd_api_calls_total":
            group = dict(labels)["group"]
            out[group] = out.get(group, 0.0) + v
    return out


def _sandbox_calls(tenant: ThreadServer) -> dict[str, float]:
    return sandbox_stats(tenant.base_url)[0]


def _status(db: Engine, app: dict[str, Any]) -> str | None:
    with db.connect() as conn:
        return conn.execute(  # type: ignore[no-any-return]
            text("SELECT status FROM applications WHERE tenant = :t AND application_id = :a"),
            {"t": TENANT, "a": app["id"]},
        ).scalar()


def test_webhooks_refresh_and_push_and_bad_ones_are_refused(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    sock = listening_socket()  # the daemon's, bound first: the callback URL names its port
    callback = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/smartrecruiters"
    config = write_config(tmp_path, {"hr": webhook_sink(receiver)})
    env = daemon_env(
        {**push_env(tenant, db_url, config), "SYNCD_WEBHOOKS__CALLBACK_URL": callback},
        poll_interval_seconds=3600,
        push_interval_seconds=3600,
    )
    env["SYNCD_LOG_LEVEL"] = "info"  # the daemon's log is shown when an assertion fails
    d = start_daemon(env, tmp_path, sock=sock)
    try:
        wait_for(
            "the first pull",
            lambda: (
                {r for r, _, s in runs(db_url, TENANT) if s == "ok"}
                >= {"jobs", "audit", "candidates", "offers"}
            ),
        )

        # /metrics counts every API call the sandbox answered, by group, as the sandbox counted
        # them, and every request waited its turn in the client's limiter once (counted alike by
        # group). The daemon may still be calling (the pull's last passes, the push it asks
        # for), and a request's limiter wait is counted before its answer: both are read from
        # one scrape, taken while no request is in flight.
        def counted_alike() -> dict[str, float] | None:
            m = d.metrics()
            calls = {g: n for (g,), n in by_labels(m, "syncd_api_calls_total", "group").items()}
            waits = by_labels(m, "syncd_limiter_wait_seconds_count", "group")
            same = calls == _sandbox_calls(tenant) == {g: n for (g,), n in waits.items()}
            return calls if same else None

        calls = wait_for("the API calls and limiter waits counted alike", counted_alike)
        assert sum(calls.values()) > 0

        sub = syncd_run(env, "webhooks", "subscribe")
        assert sub.returncode == 0, sub.stderr
        assert f"-> {callback} (active)" in sub.stdout
        again = syncd_run(env, "webhooks", "subscribe")
        assert again.returncode == 0 and "already subscribed" in again.stdout
        assert (
            d.metric("syncd_webhook_callbacks_total", outcome="accepted", reason="handshake") == 1
        )

        app = candidates_to_hire(tenant, 1)[0]
        before = _status(db, app)
        assert before != "HIRED"
        started = time.monotonic()
        control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        control(tenant, "webhooks/flush", {})
        wait_for(
            "the hire at the receiver",
            lambda: len(receiver.state.hires()) == 1,
            timeout=120,
            log=d.output,
        )
        latency = time.monotonic() - started
        assert set(receiver.state.hires()) == {f"sr-{app['id']}"}
        assert _status(db, app) == "HIRED"
        assert latency < 600  # the next pull is an hour away: only the webhook brought it
        queued = d.metric("syncd_webhook_callbacks_total", outcome="accepted", reason="queued")
        assert queued >= 1
        # The delivery's onboarding status goes back to SmartRecruiters (READY_TO_ONBOARD, then
        # ONBOARDING_SUCCESSFUL once the HRIS reads it active), and each write is a callback of
        # its own: once both are written, and every callback the sandbox made is answered, no
        # other callback comes, and the counts below are this test's own.
        wait_for(
            "the onboarding status written back",
            lambda: onboarding_writes(tenant, app["id"]) == WRITTEN_BACK,
            log=d.output,
        )
        control(tenant, "webhooks/flush", {})  # returns once no callback is in flight

        # The sandbox's own record of what it sent: every callback answered 202.
        with _sr(tenant) as sr:
            subs = sr.get(f"{WEBHOOKS}/subscriptions").json()
            sid = next(s["id"] for s in subs if s["callbackUrl"] == callback)
            log = sr.get(f"{WEBHOOKS}/subscriptions/{sid}/callbacks-log").json()
            key = sr.get(f"{WEBHOOKS}/subscriptions/{sid}/secret-key").json()["secretKey"]
        assert log and all(e["responseDetails"]["statusCode"] == 202 for e in log)
        sent = log[0]["requestDetails"]
        headers, body = dict(sent["headers"]), sent["body"].encode()

        def post(h: dict[str, str], b: bytes) -> httpx.Response:
            return httpx.post(callback, headers=h, content=b, timeout=10)

        def signed(event_id: str, timestamp: str) -> dict[str, str]:
            return {
                **headers,
                "smartrecruiters-timestamp": timestamp,
                "event-id": event_id,
                "smartrecruiters-signature": signature_header(
                    [key],
                    timestamp=timestamp,
                    body=body,
                    event_id=event_id,
                    event_name=headers["event-name"],
                    event_version=headers.get("event-version", ""),
                    link=headers.get("link", ""),
                ),
            }

        # Good: signed now with the subscription's key, a new event id: accepted and queued
        # (SmartRecruiters wants an answer within 5 s: the refresh runs after the answer, which
        # the "queued" count shows; how fast it answers is bench/daemon_webhook_latency.py's).
        queued_before = d.metric(
            "syncd_webhook_callbacks_total", outcome="accepted", reason="queued"
        )
        good = post(signed("good-1", str(int(time.time()))), body)
        assert good.status_code == 202
        assert (
            d.metric("syncd_webhook_callbacks_total", outcome="accepted", reason="queued")
            == queued_before + 1
        )
        # Replayed: the very request the sandbox sent, again.
        assert post(headers, body).status_code == 409
        # Bad: the body changed under its signature.
        assert post(headers, body.replace(b'"', b" ", 1)).status_code == 401
        # Stale: correctly signed with the subscription's key, an hour old.
        assert post(signed("stale-1", str(int(time.time()) - 3600)), body).status_code == 401
        # Unsigned.
        unsigned = {k: v for k, v in headers.items() if k != "smartrecruiters-signature"}
        assert post({**unsigned, "event-id": "u-1"}, body).status_code == 401

        # Too large: refused before it is read whole.
        assert post({**headers, "event-id": "big"}, b"x" * 100_000).status_code == 413

        # A handshake secret that could not go back out in a header: refused, never echoed.
        odd = post({"X-Hook-Secret": "two words\tand a tab"}, b"")
        assert odd.status_code == 400 and "X-Hook-Secret" not in odd.headers
        assert "visible ASCII" in odd.json()["error"] and "two words" not in odd.text

        def rejected(reason: str) -> float:
            return d.metric("syncd_webhook_callbacks_total", outcome="rejected", reason=reason)

        assert rejected("bad_handshake") == 1

        assert rejected("replayed") == 1
        assert rejected("bad_signature") == 2  # the changed body and the unsigned one
        assert rejected("stale") == 1
        assert rejected("too_large") == 1
        assert len(receiver.state.hires()) == 1  # nothing refused was acted on

        listed = syncd_run(env, "webhooks", "list")
        assert listed.returncode == 0 and sid in listed.stdout and "active" in listed.stdout
        gone = syncd_run(env, "webhooks", "delete")
        assert gone.returncode == 0 and "deleted 1 subscription(s)" in gone.stdout
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()


def test_webhooks_commands_need_a_callback_url(tenant: ThreadServer, tmp_path: Path) -> None:
    env = daemon_env(push_env(tenant, "sqlite:///x.db", write_config(tmp_path, {})))
    out = syncd_run(env, "webhooks", "list")
    assert out.returncode == 2
    assert "SYNCD_WEBHOOKS__CALLBACK_URL" in out.stderr


def _signed(key: str, event_id: str, event_name: str, body: bytes) -> dict[str, str]:
    """The headers SmartRecruiters sends with a callback, signed now with ``key``."""
    stamp = str(int(time.time()))
    sig = signature_header(
        [key], timestamp=stamp, body=body, event_id=event_id, event_name=event_name
    )
    return {
        "content-type": "application/json",
        "event-id": event_id,
        "event-name": event_name,
        "smartrecruiters-timestamp": stamp,
        "smartrecruiters-signature": sig,
    }


def _inbox(db: Engine) -> list[tuple[str, str | None, bool]]:
    """(event name, resource, done) of every callback in the webhook inbox."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT event_name, resource, done_at IS NOT NULL FROM webhook_inbox "
                "WHERE tenant = :t ORDER BY received_at, event_id"
            ),
            {"t": TENANT},
        ).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def test_a_callback_to_the_standby_reaches_the_mirror_and_the_hris_through_the_inbox(
    tenant: ThreadServer, receiver: ReceiverServer, pg: tuple[str, Engine], tmp_path: Path
) -> None:
    """Two replicas on PostgreSQL; SmartRecruiters' callbacks go to the one standing by (as a
    Kubernetes Service may send them): it verifies them, answers 202 and stores them in the
    inbox, and the leader refreshes the hire and pushes it, with polling an hour away. A replay
    is refused by either replica, a bad signature by the standby as by the leader."""
    db_url, db = pg
    standby_sock = listening_socket()  # bound first: the callback URL names the standby's port
    callback = f"http://127.0.0.1:{standby_sock.getsockname()[1]}/webhooks/smartrecruiters"
    config = write_config(tmp_path, {"hr": webhook_sink(receiver)})
    env = daemon_env(
        {**push_env(tenant, db_url, config), "SYNCD_WEBHOOKS__CALLBACK_URL": callback},
        poll_interval_seconds=3600,
        push_interval_seconds=3600,
        leader_check_seconds=1,
    )
    env["SYNCD_LOG_LEVEL"] = "info"
    leader = start_daemon(env, tmp_path, "leader")
    standby: DaemonProc | None = None
    try:
        wait_for("the first daemon leading", lambda: _role(leader) == "leader")
        standby = start_daemon(env, tmp_path, "standby", sock=standby_sock)
        assert _role(standby) == "standby"
        wait_for(
            "the leader's first pull",
            lambda: {r for r, _, s in runs(db_url, TENANT) if s == "ok"} >= {"candidates"},
        )
        sub = syncd_run(env, "webhooks", "subscribe")  # the handshake goes to the standby
        assert sub.returncode == 0, sub.stderr

        app = candidates_to_hire(tenant, 1)[0]
        assert _status(db, app) != "HIRED"
        control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        control(tenant, "webhooks/flush", {})
        both = lambda: leader.output() + (standby.output() if standby else "")  # noqa: E731
        wait_for("the hire at the receiver", lambda: receiver.state.hires(), timeout=30, log=both)
        assert set(receiver.state.hires()) == {f"sr-{app['id']}"}
        assert _status(db, app) == "HIRED"
        # The hire's records are written (and may be pushed by a push already running) before
        # the refresh's follow-ups end and its run is recorded.
        wait_for(
            "the refresh ended",
            lambda: ("applications", "refresh", "ok") in runs(db_url, TENANT),
            log=both,
        )
        # The delivery's onboarding status goes back to SmartRecruiters (two writes), each a
        # callback of its own to the standby: once both are written and the sandbox has no
        # callback in flight, no other callback comes.
        wait_for(
            "the onboarding status written back",
            lambda: onboarding_writes(tenant, app["id"]) == WRITTEN_BACK,
            log=both,
        )
        control(tenant, "webhooks/flush", {})  # returns once no callback is in flight

        # Every callback the sandbox sent was answered 202 by the standby and stored in the
        # inbox, which the leader drained (each marked done with its refresh).
        with _sr(tenant) as sr:
            subs = sr.get(f"{WEBHOOKS}/subscriptions").json()
            sid = next(s["id"] for s in subs if s["callbackUrl"] == callback)
            log = sr.get(f"{WEBHOOKS}/subscriptions/{sid}/callbacks-log").json()
        assert log and all(e["responseDetails"]["statusCode"] == 202 for e in log)
        names = sorted(e["requestDetails"]["headers"]["event-name"] for e in log)
        wait_for("the inbox drained", lambda: all(done for _, _, done in _inbox(db)), log=both)
        assert sorted(n for n, _, _ in _inbox(db)) == names
        assert ("application.status.updated", "applications", True) in _inbox(db)
        stored = standby.metric("syncd_webhook_inbox_accepted_total", tenant=TENANT)
        assert stored == sum(1 for _, r, _ in _inbox(db) if r is not None) >= 1
        assert leader.metric("syncd_webhook_inbox_accepted_total", tenant=TENANT) == 0
        assert standby.metric("syncd_webhook_inbox_backlog", tenant=TENANT) == 0

        # A replay is refused by the standby and by the leader (the replay record is shared);
        # a changed body and an unsigned one are refused by the standby as by the leader.
        sent = log[0]["requestDetails"]
        headers, body = dict(sent["headers"]), sent["body"].encode()
        unsigned = {k: v for k, v in headers.items() if k != "smartrecruiters-signature"}
        # The handshake went to the standby only; the leader read the keys at its start, before
        # the subscription existed, and reads them again at the first callback that fails
        # verification (within the reads' rate limit, hooks_in.KeyReloads; a handshake changes
        # nothing there).
        shake = httpx.post(f"{leader.url}/webhooks/smartrecruiters", headers={"X-Hook-Secret": "s"})
        assert shake.status_code == 200
        for d in (standby, leader):
            hook = f"{d.url}/webhooks/smartrecruiters"
            assert httpx.post(hook, headers=headers, content=body, timeout=10).status_code == 409
            bad = httpx.post(hook, headers=headers, content=body.replace(b'"', b" ", 1))
            assert bad.status_code == 401
            none = httpx.post(hook, headers={**unsigned, "event-id": "u-1"}, content=body)
            assert none.status_code == 401
            reasons = by_labels(d.metrics(), "syncd_webhook_callbacks_total", "outcome", "reason")
            assert reasons[("rejected", "replayed")] == 1
            assert reasons[("rejected", "bad_signature")] == 2
        assert set(receiver.state.hires()) == {f"sr-{app['id']}"}  # nothing refused was acted on
        assert standby.metric("syncd_webhook_inbox_accepted_total", tenant=TENANT) == stored
        assert standby.stop() == 0, standby.output()[-3000:]
        assert leader.stop() == 0, leader.output()[-3000:]
    finally:
        leader.kill()
        if standby is not None:
            standby.kill()


def test_callbacks_stored_while_nobody_leads_wait_and_the_next_leader_drains_them(
    tenant: ThreadServer, pg: tuple[str, Engine], tmp_path: Path
) -> None:
    """The tenant's locks held by another process (this test): the one daemon stands by, stores
    a signed callback in the inbox (backlog 1 in /metrics and `syncd status`) and refreshes
    nothing; once the locks are free it leads and drains the callback (a refresh by id, the row
    marked done)."""
    db_url, db = pg
    key = "inbox-test-signing-key"
    base = push_env(tenant, db_url, write_config(tmp_path, {}))
    env = daemon_env(
        {**base, "SYNCD_WEBHOOKS__SECRET_KEYS": key},
        poll_interval_seconds=3600,
        leader_check_seconds=1,
    )
    locks = [MirrorLock(db_url, TENANT, role) for role in ("writer", "push")]
    for lock in locks:
        lock.acquire()
    d = start_daemon(env, tmp_path)
    try:
        assert _role(d) == "standby"
        app = candidates_to_hire(tenant, 1)[0]
        control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        body = orjson.dumps({"candidate_id": app["candidateId"], "job_id": app["jobId"]})
        hook = f"{d.url}/webhooks/smartrecruiters"
        headers = _signed(key, "hire-1", "application.status.updated", body)
        answer = httpx.post(hook, headers=headers, content=body, timeout=10)
        assert answer.status_code == 202 and answer.json()["inbox"] is True
        assert d.metric("syncd_webhook_inbox_backlog", tenant=TENANT) == 1
        status = syncd_run(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert orjson.loads(status.stdout)["webhook_inbox"]["waiting"] == 1
        shown = syncd_run(env, "status")
        assert "webhook inbox: 1 callback(s) waiting for the leader" in shown.stdout
        assert runs(db_url, TENANT) == []  # nobody leads: nothing refreshed, nothing pulled

        for lock in locks:
            lock.release()
        wait_for("the daemon leading", lambda: _role(d) == "leader", timeout=30)
        wait_for("the callback drained", lambda: _inbox(db) == [
            ("application.status.updated", "applications", True)
        ], timeout=30, log=d.output)  # fmt: skip
        # The row is marked done with the records' write; the refresh's follow-ups end after.
        wait_for(
            "the refresh ended",
            lambda: ("applications", "refresh", "ok") in runs(db_url, TENANT),
            log=d.output,
        )
        wait_for("the hire in the mirror", lambda: _status(db, app) == "HIRED", log=d.output)
        assert d.metric("syncd_webhook_inbox_backlog", tenant=TENANT) == 0
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        for lock in locks:
            lock.release()
        d.kill()


@pytest.mark.parametrize(
    ("variable", "keys"),
    [
        ("SYNCD_WEBHOOKS__SECRET_KEYS", "Tk8jDvVKH6JfWb2K4AR84,neRPYW sCmG4vzY"),
        ("SYNCD_WEBHOOKS__SECRET_KEYS", '["Tk8jDvVKH6JfWb2K4AR84", "neRPYW\\u00e9sCmG4vzY"]'),
        ("SYNCD_TENANTS__ACME__WEBHOOKS__SECRET_KEYS", "Tk8jDvVKH6JfWb2K4AR84,neRPYW\x01sCmG4vzY"),
    ],
)
def test_webhook_keys_outside_visible_ascii_are_refused_without_showing_them(
    tenant: ThreadServer, tmp_path: Path, variable: str, keys: str
) -> None:
    """A configured signing key with a space, a control or a non-ASCII character: every command
    (here `syncd webhooks list` and `syncd run`) exits 2 with one line naming the variable and
    which key, never the key."""
    env = daemon_env(push_env(tenant, "sqlite:///x.db", write_config(tmp_path, {})))
    env["SYNCD_WEBHOOKS__CALLBACK_URL"] = "https://syncd.example.com/webhooks/smartrecruiters"
    if "TENANTS" in variable:
        env["SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY"] = "key-acme"
        env.pop("SYNCD_TENANT")
    env[variable] = keys
    for args in (["webhooks", "list"], ["run"]):
        out = syncd_run(env, *args)
        assert out.returncode == 2, out.stderr
        assert out.stderr.splitlines() == [
            "syncd: invalid settings:",
            f"  {variable}: key 2 of 2 must be 1 to 1024 visible ASCII characters (no space, "
            "control or non-ASCII character); give each key as SmartRecruiters shows it "
            "(comma-separated, one per line, or a JSON list)",
        ]
        assert "sCmG4vzY" not in out.stderr and "Tk8j" not in out.stderr


def test_unsigned_requests_cannot_spend_the_api_budget_and_a_bad_id_is_refused(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """Anyone reaching the endpoint: 30 handshakes each followed by an unsigned callback make
    the daemon read the signing keys at most as often as the reads' rate limit allows (a burst
    of 2, then one per 10 s; each read is 2 calls here: the subscriptions' list and the key),
    counted alike by the daemon's /metrics and the sandbox. The key made after the daemon's
    start is still read at the first callback. A signed callback whose id cannot name a record is
    refused with 400 (reason ``bad_id``) and does not hold back the valid one sent with it."""
    sock = listening_socket()
    callback = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/smartrecruiters"
    env = daemon_env(
        {**push_env(tenant, db_url, write_config(tmp_path, {})),
         "SYNCD_WEBHOOKS__CALLBACK_URL": callback},
        poll_interval_seconds=3600,
        push_interval_seconds=3600,
    )  # fmt: skip
    env["SYNCD_LOG_LEVEL"] = "info"
    d = start_daemon(env, tmp_path, sock=sock)
    try:
        wait_for(
            "the first pull",
            lambda: {r for r, _, s in runs(db_url, TENANT) if s == "ok"} >= {"candidates"},
            log=d.output,
        )
        wait_for("the API calls counted alike", lambda: _calls(d) == _sandbox_calls(tenant))
        assert _calls(d).get("webhooks", 0.0) >= 1  # the read at start (no subscription yet)
        sub = syncd_run(env, "webhooks", "subscribe")  # its own calls: the sandbox's count only
        assert sub.returncode == 0, sub.stderr
        before = _calls(d).get("webhooks", 0.0)
        before_sandbox = _sandbox_calls(tenant)["webhooks"]

        started = time.monotonic()
        for i in range(30):
            shake = httpx.post(callback, headers={"X-Hook-Secret": f"s-{i}"}, timeout=10)
            assert shake.status_code == 200
            unsigned = httpx.post(
                callback,
                headers={"content-type": "application/json", "event-id": f"u-{i}"},
                content=b"{}",
                timeout=10,
            )
            assert unsigned.status_code == 401
        elapsed = time.monotonic() - started
        spent = _calls(d)["webhooks"] - before
        assert _sandbox_calls(tenant)["webhooks"] - before_sandbox == spent
        # At most the burst plus what the elapsed time refilled, 2 calls per read; at least one
        # read (the subscription's key, made after the start).
        assert 2 <= spent <= 2 * (2 + int(elapsed / 10))
        shakes = d.metric("syncd_webhook_callbacks_total", outcome="accepted", reason="handshake")
        assert shakes == 31  # the subscription's own and the 30

        with _sr(tenant) as sr:
            subs = sr.get(f"{WEBHOOKS}/subscriptions").json()
            sid = next(s["id"] for s in subs if s["callbackUrl"] == callback)
            key = sr.get(f"{WEBHOOKS}/subscriptions/{sid}/secret-key").json()["secretKey"]
        app = candidates_to_hire(tenant, 1)[0]
        for event_id, ident in (("bad-1", "bad/id"), ("bad-2", "x" * 65)):
            body = orjson.dumps({"id": ident})
            bad = httpx.post(
                callback, headers=_signed(key, event_id, "candidate.updated", body), content=body
            )
            assert bad.status_code == 400, bad.text
            assert "CANDIDATE_ID" in bad.json()["error"] or "64" in bad.json()["error"]
            assert ident not in bad.text
        assert d.metric("syncd_webhook_callbacks_total", outcome="rejected", reason="bad_id") == 2
        # Malformed bodies of mirrored events: 400 bad_body, one warning each naming the event
        # and the problem, never the body; an event syncd does not mirror stays 202 ignored.
        malformed = [
            ("candidate.updated", b"{not json", "the body is not JSON"),
            ("candidate.updated", b"[1,2,3]", "the body is an array, not a JSON object"),
            ("candidate.updated", b'""', "the body is an empty string, not a JSON object"),
            (
                "candidate.updated",
                b'{"id": 5}',
                "the body's id is a number, not a non-empty string",
            ),
            ("candidate.updated", b'{"id": null}', "the body's id is null, not a non-empty string"),
            ("candidate.updated", b'{"id": "\xff\xfe"}', "the body is not UTF-8"),
            (
                "application.status.updated",
                orjson.dumps({"candidate_id": app["candidateId"], "application_id": "a-1"}),
                "the body has no job_id (a non-empty string)",
            ),
        ]
        for n, (event, body, problem) in enumerate(malformed):
            bad = httpx.post(callback, headers=_signed(key, f"body-{n}", event, body), content=body)
            assert bad.status_code == 400, (body, bad.text)
            assert bad.json() == {"error": f"{event}: {problem}"}
        assert d.metric(
            "syncd_webhook_callbacks_total", outcome="rejected", reason="bad_body"
        ) == len(malformed)
        warned = [
            (e["event_name"], e["problem"])
            for e in d.events()
            if e["event"] == "webhook_rejected" and e.get("reason") == "bad_body"
        ]
        assert warned == [(event, problem) for event, _, problem in malformed]
        assert app["candidateId"] not in d.output()
        ignored_before = d.metric(
            "syncd_webhook_callbacks_total", outcome="accepted", reason="ignored"
        )
        other = httpx.post(
            callback,
            headers=_signed(key, "review-1", "review.created", b"{not json"),
            content=b"{not json",
        )
        assert other.status_code == 202 and other.json() == {"accepted": True, "refresh": None}
        assert (
            d.metric("syncd_webhook_callbacks_total", outcome="accepted", reason="ignored")
            == ignored_before + 1
        )
        # A timestamp that is not whole seconds, signed as it is: `nan` compares as never stale.
        body = orjson.dumps({"id": app["candidateId"]})
        for n, stamp in enumerate(("nan", "inf", "1e20", "1795900602.5", "-1")):
            headers = {
                **_signed(key, f"ts-{n}", "candidate.updated", body),
                "smartrecruiters-timestamp": stamp,
                "smartrecruiters-signature": signature_header(
                    [key],
                    timestamp=stamp,
                    body=body,
                    event_id=f"ts-{n}",
                    event_name="candidate.updated",
                ),
            }
            odd = httpx.post(callback, headers=headers, content=body)
            assert odd.status_code == 400, (stamp, odd.text)
            assert odd.json()["error"] == (
                "smartrecruiters-timestamp must be whole seconds since the epoch"
            )
        refused = d.metric(
            "syncd_webhook_callbacks_total", outcome="rejected", reason="bad_timestamp"
        )
        assert refused == 5
        control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        body = orjson.dumps({"candidate_id": app["candidateId"], "job_id": app["jobId"]})
        good = httpx.post(
            callback,
            headers=_signed(key, "good-1", "application.status.updated", body),
            content=body,
        )
        assert good.status_code == 202, good.text
        wait_for("the hire refreshed", lambda: _status(db, app) == "HIRED", log=d.output)
        assert d.metric("syncd_job_failures_total", job="webhook_refresh") == 0
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()


def test_a_callback_the_leader_answered_survives_its_kill_before_the_refresh(
    tenant: ThreadServer, receiver: ReceiverServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """The leader stores its own callbacks in the inbox before its 202. SmartRecruiters' reads
    are held back 8 s (the sandbox's latency fault), so the leader's refresh of a hire is still
    reading when the leader is SIGKILLed; the callback is then still waiting in the inbox (not
    done, nothing pushed). With the latency off, the daemon restarted (SQLite) or the standby
    that takes the lead (PostgreSQL) drains it: the refresh marks it done, the hire reaches the
    mirror and the HRIS receiver as the sandbox has it, with polling an hour away. (Their
    first pull at start would see the hire too: the refresh recorded and the row marked done
    are what show the inbox brought it.)"""
    key = "durable-inbox-test-key"
    config = write_config(tmp_path, {"hr": webhook_sink(receiver)})
    env = daemon_env(
        {**push_env(tenant, db_url, config), "SYNCD_WEBHOOKS__SECRET_KEYS": key},
        poll_interval_seconds=3600,
        push_interval_seconds=3600,
        leader_check_seconds=1,
    )
    env["SYNCD_LOG_LEVEL"] = "info"
    postgres = db.dialect.name == "postgresql"
    leader = start_daemon(env, tmp_path, "leader")
    second: DaemonProc | None = None
    try:
        wait_for(
            "the first pull",
            lambda: {r for r, _, s in runs(db_url, TENANT) if s == "ok"} >= {"candidates"},
            log=leader.output,
        )
        if postgres:
            second = start_daemon(env, tmp_path, "standby")
            assert _role(second) == "standby"
        # The sink's cursor set by the first push: the hire below is after it.
        cursor = text("SELECT COUNT(*) FROM sink_cursors WHERE tenant = :t AND sink = 'hr'")

        def started_sink() -> bool:
            with db.connect() as conn:
                return conn.execute(cursor, {"t": TENANT}).scalar() == 1

        wait_for("the sink started", started_sink, log=leader.output)
        assert receiver.state.hires() == {}  # start = "now": earlier hires are history

        app = candidates_to_hire(tenant, 1)[0]
        control(tenant, "faults", {"spec": "latency=8s"})
        control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        body = orjson.dumps({"candidate_id": app["candidateId"], "job_id": app["jobId"]})
        started = time.monotonic()
        answer = httpx.post(
            f"{leader.url}/webhooks/smartrecruiters",
            headers=_signed(key, "hire-1", "application.status.updated", body),
            content=body,
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        assert time.monotonic() - started < 5  # SmartRecruiters' limit, the read held 8 s
        assert answer.json() == {"accepted": True, "refresh": "applications"}
        reasons = by_labels(leader.metrics(), "syncd_webhook_callbacks_total", "outcome", "reason")
        assert reasons[("accepted", "queued")] == 1
        assert leader.metric("syncd_webhook_inbox_accepted_total", tenant=TENANT) == 1
        # The refresh is reading (its run recorded, SmartRecruiters holding the answer): kill.
        wait_for(
            "the refresh reading",
            lambda: ("applications", "refresh", "running") in runs(db_url, TENANT),
            log=leader.output,
        )
        assert leader.metric("syncd_webhook_inbox_backlog", tenant=TENANT) == 1
        leader.kill()
        assert _inbox(db) == [("application.status.updated", "applications", False)]
        assert _status(db, app) != "HIRED" and receiver.state.hires() == {}

        control(tenant, "faults", {"spec": ""})
        if postgres:
            assert second is not None
            survivor = second
            wait_for("the standby leading", lambda: _role(survivor) == "leader", timeout=30)
        else:
            second = survivor = start_daemon(env, tmp_path, "restarted")
        wait_for(
            "the hire at the receiver",
            lambda: receiver.state.hires(),
            timeout=60,
            log=survivor.output,
        )
        wait_for("the callback drained", lambda: _inbox(db) == [
            ("application.status.updated", "applications", True)
        ], log=survivor.output)  # fmt: skip
        wait_for(
            "the refresh recorded",
            lambda: ("applications", "refresh", "ok") in runs(db_url, TENANT),
            log=survivor.output,
        )
        truth = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=30).json()
        hired = truth["applications"][app["id"]]
        assert hired["status"] == "HIRED"
        assert _status(db, app) == hired["status"]
        assert set(receiver.state.hires()) == {f"sr-{app['id']}"}
        got = [r for r in receiver.state.received if r.type == "application.hired"]
        assert len(got) == 1
        data = got[0].body["data"]
        assert data["ids"]["application_id"] == app["id"]
        assert data["candidate"]["email"] == truth["candidates"][app["candidateId"]]["email"]
        assert survivor.metric("syncd_webhook_inbox_backlog", tenant=TENANT) == 0
        # The replay record outlived the kill: the same delivery again is refused.
        again = httpx.post(
            f"{survivor.url}/webhooks/smartrecruiters",
            headers=_signed(key, "hire-1", "application.status.updated", body),
            content=body,
            timeout=10,
        )
        assert again.status_code == 409
        assert survivor.stop() == 0, survivor.output()[-3000:]
    finally:
        leader.kill()
        if second is not None:
            second.kill()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_callback_sqlites_busy_write_lock_keeps_out_of_the_inbox_is_still_answered_and_refreshed(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """SQLite has one writer: another process (this test, standing in for a pass's long write
    group) holds the mirror's write lock. The daemon's accept waits its bounded 2.5 s, then
    answers 202 within SmartRecruiters' 5 s all the same (reason ``unstored``) and refreshes the
    hire from memory once the lock is free; the inbox has no row for it, and a replay of it is
    still refused (its event-id kept in memory)."""
    key = "busy-inbox-test-key"
    env = daemon_env(
        {
            **push_env(tenant, db_url, write_config(tmp_path, {})),
            "SYNCD_WEBHOOKS__SECRET_KEYS": key,
        },
        poll_interval_seconds=3600,
    )
    env["SYNCD_LOG_LEVEL"] = "info"
    d = start_daemon(env, tmp_path)
    try:
        wait_for(
            "the first pull",
            lambda: {r for r, _, s in runs(db_url, TENANT) if s == "ok"} >= {"candidates"},
            log=d.output,
        )
        app = candidates_to_hire(tenant, 1)[0]
        control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
        body = orjson.dumps({"candidate_id": app["candidateId"], "job_id": app["jobId"]})
        hook = f"{d.url}/webhooks/smartrecruiters"
        headers = _signed(key, "busy-1", "application.status.updated", body)
        with db.connect() as holder:
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # the file's write lock, held
            started = time.monotonic()
            answer = httpx.post(hook, headers=headers, content=body, timeout=10)
            took = time.monotonic() - started
            assert answer.status_code == 202, answer.text
            assert 2.5 <= took < 5
            assert answer.json() == {"accepted": True, "refresh": "applications"}
            holder.exec_driver_sql("ROLLBACK")
        reasons = by_labels(d.metrics(), "syncd_webhook_callbacks_total", "outcome", "reason")
        assert reasons[("accepted", "unstored")] == 1 and ("accepted", "queued") not in reasons
        wait_for("the hire refreshed", lambda: _status(db, app) == "HIRED", log=d.output)
        truth = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=30).json()
        assert _status(db, app) == truth["applications"][app["id"]]["status"] == "HIRED"
        assert _inbox(db) == []
        assert d.metric("syncd_webhook_inbox_accepted_total", tenant=TENANT) == 0
        again = httpx.post(hook, headers=headers, content=body, timeout=10)
        assert again.status_code == 409
        assert '"event": "webhook_inbox_busy"' in d.output()
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()


def test_a_daemon_without_webhook_keys_or_callback_url_says_so_once_at_start(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    """Neither SYNCD_WEBHOOKS__SECRET_KEYS nor SYNCD_WEBHOOKS__CALLBACK_URL: every callback is
    refused (``no_keys``), so the daemon says it once as it starts, naming both settings, before
    ``daemon_started``; a refused callback adds no second warning. With a key, no warning."""
    env = daemon_env(
        push_env(tenant, db_url, write_config(tmp_path, {})),
        poll_interval_seconds=3600,
        push_interval_seconds=3600,
    )
    for name in ("SYNCD_WEBHOOKS__SECRET_KEYS", "SYNCD_WEBHOOKS__CALLBACK_URL"):
        env.pop(name, None)
    env["SYNCD_LOG_LEVEL"] = "info"
    d = start_daemon(env, tmp_path)
    try:
        wait_for(
            "daemon_started",
            lambda: any(e["event"] == "daemon_started" for e in d.events()),
            log=d.output,
        )
        callback = httpx.post(
            f"{d.url}/webhooks/smartrecruiters",
            headers={"content-type": "application/json", "event-id": "e-1"},
            content=b"{}",
            timeout=30,
        )
        assert callback.status_code == 401
        wait_for(
            "the callback counted as no_keys",
            lambda: (
                d.metric("syncd_webhook_callbacks_total", outcome="rejected", reason="no_keys") == 1
            ),
        )
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()
    events = [e["event"] for e in d.events()]
    assert events.count("webhooks_without_keys") == 1, events
    assert events.index("webhooks_without_keys") < events.index("daemon_started")
    warned = next(e for e in d.events() if e["event"] == "webhooks_without_keys")
    assert (warned["level"], warned["tenant"], warned["path"]) == (
        "warning",
        TENANT,
        "/webhooks/smartrecruiters",
    )
    assert warned["fix"] == (
        "set SYNCD_WEBHOOKS__CALLBACK_URL (then `syncd webhooks subscribe`: the keys are read "
        "from the subscription) or SYNCD_WEBHOOKS__SECRET_KEYS"
    )
    assert "webhook_rejected" in events  # the refusal itself, logged as before

    keyed = start_daemon({**env, "SYNCD_WEBHOOKS__SECRET_KEYS": "k-1"}, tmp_path, name="keyed")
    try:
        wait_for(
            "daemon_started",
            lambda: any(e["event"] == "daemon_started" for e in keyed.events()),
            log=keyed.output,
        )
        assert keyed.stop() == 0, keyed.output()[-3000:]
    finally:
        keyed.kill()
    assert "webhooks_without_keys" not in [e["event"] for e in keyed.events()]
