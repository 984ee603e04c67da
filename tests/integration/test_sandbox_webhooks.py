"""The sandbox's Webhooks API over real HTTP, delivering to a real receiver on 127.0.0.1.

The receiver is a stdlib HTTP server in a thread: it answers the activation handshake and records
every delivery before it answers, so once ``POST /_sandbox/webhooks/flush`` returns (it waits for
every attempt in flight) the receiver's record is complete. No sleeps.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sandbox.signature import parse_signature_header, verify_request
from tests.conftest import TOKEN, sandbox_options

SUBS = "/webhooks-api/v201907/subscriptions"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``handshake``: echo | none (200, no header) | wrong | 500 | hang.
    ``statuses``: answers for the next deliveries (then 202); ``hang_deliveries`` holds them."""

    handshake: str = "echo"
    statuses: list[int] = field(default_factory=list)
    hang_deliveries: bool = False
    handshakes: list[dict[str, str]] = field(default_factory=list)
    deliveries: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, n: int, timeout: float = 30.0) -> None:
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.deliveries) >= n, timeout)
        assert ok, f"expected {n} deliveries, got {len(self.deliveries)}"


def _handler(rx: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            secret = headers.get("x-hook-secret")
            if secret is not None:
                rx.handshakes.append(headers)
                mode = rx.handshake
                if mode == "hang":
                    rx.release.wait(30)
                    return self._answer(200, {"X-Hook-Secret": secret})
                if mode == "500":
                    return self._answer(500)
                if mode == "none":
                    return self._answer(200)
                echo = secret if mode == "echo" else secret[::-1] + "x"
                return self._answer(200, {"X-Hook-Secret": echo})
            with rx.arrived:
                rx.deliveries.append(Received(headers, body))
                rx.arrived.notify_all()
                status = rx.statuses.pop(0) if rx.statuses else 202
            if rx.hang_deliveries:
                rx.release.wait(30)
            self._answer(status)

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    rx.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx))
    thread = threading.Thread(target=rx.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield rx
    rx.release.set()
    rx.server.shutdown()
    rx.server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def wh_sandbox() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(jobs=5, candidates=40, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


@pytest.fixture
def api(wh_sandbox: ThreadServer) -> Iterator[httpx.Client]:
    """The sandbox, reset: no subscriptions, default webhook settings."""
    with httpx.Client(
        base_url=wh_sandbox.base_url, headers={"X-SmartToken": TOKEN}, timeout=60
    ) as c:
        c.post("/_sandbox/reset").raise_for_status()
        yield c


# ---- helpers -----------------------------------------------------------------------------------
def subscribe(api: httpx.Client, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    r = api.post(SUBS, json={"callbackUrl": url, "events": events, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def active(
    api: httpx.Client, rx: Receiver, events: list[str], *, key: bool = True
) -> dict[str, Any]:
    sub = subscribe(api, rx.url, events)
    if key:
        r = api.post(f"{SUBS}/{sub['id']}/secret-key")
        assert r.status_code == 201
        sub["key"] = r.json()["secretKey"]
    assert api.put(f"{SUBS}/{sub['id']}/activation").status_code == 204
    return sub


def open_application(api: httpx.Client) -> dict[str, Any]:
    apps = api.get("/_sandbox/snapshot", params={"include": "applications"}).json()
    for app in apps["applications"].values():
        if app["status"] in ("NEW", "LEAD", "IN_REVIEW"):
            return dict(app)
    raise AssertionError("no open application in the tenant")


def change_status(api: httpx.Client, app: dict[str, Any], status: str = "INTERVIEW") -> None:
    r = api.post(
        "/_sandbox/status",
        json={"candidateId": app["candidateId"], "jobId": app["jobId"], "status": status},
    )
    assert r.status_code == 200, r.text


def flush(api: httpx.Client, retries: str = "due") -> dict[str, Any]:
    r = api.post("/_sandbox/webhooks/flush", json={"retries": retries})
    assert r.status_code == 200, r.text
    return dict(r.json())


def truth(api: httpx.Client) -> dict[str, Any]:
    return dict(api.get("/_sandbox/webhooks").json())


def error_of(r: httpx.Response) -> dict[str, Any]:
    return dict(r.json()["errors"][0])


# ---- subscriptions -----------------------------------------------------------------------------
def test_create_get_list_page_delete(api: httpx.Client, receiver: Receiver) -> None:
    made = [
        subscribe(
            api,
            receiver.url,
            ["application.created", "application.status.updated"],
            alertingEmailAddress="alerts@example.com",
            callbackAuthentication={
                "type": "header",
                "headerName": "X-Token",
                "headerValue": "hook-credential-1",
            },
        ),
        subscribe(api, receiver.url, ["candidate.deleted"]),
        subscribe(api, receiver.url, ["job.status.updated"]),
    ]
    first = made[0]
    assert first["status"] == "inactive"
    assert first["events"] == ["application.created", "application.status.updated"]
    assert first["alertingEmailAddress"] == "alerts@example.com"
    # The callback credential is stored but never shown again.
    assert first["callbackAuthentication"] == {"type": "header", "headerName": "X-Token"}
    assert "hook-credential-1" not in api.get(f"{SUBS}/{first['id']}").text

    got = api.get(f"{SUBS}/{made[1]['id']}")
    assert got.status_code == 200 and got.json() == made[1]

    page1 = api.get(SUBS, params={"limit": 2})
    assert page1.status_code == 200
    assert [s["id"] for s in page1.json()] == [made[0]["id"], made[1]["id"]]
    link = page1.headers["link"]
    assert link.endswith('rel="next"') and "page_id=" in link
    next_url = link[link.index("<") + 1 : link.index(">")]
    page2 = api.get(next_url)
    assert [s["id"] for s in page2.json()] == [made[2]["id"]]
    assert "link" not in page2.headers

    assert api.delete(f"{SUBS}/{made[1]['id']}").status_code == 204
    gone = api.get(f"{SUBS}/{made[1]['id']}")
    assert gone.status_code == 404 and error_of(gone)["code"] == "SUBSCRIPTION_NOT_FOUND"
    assert [s["id"] for s in api.get(SUBS).json()] == [made[0]["id"], made[2]["id"]]
    assert api.delete(f"{SUBS}/{made[1]['id']}").status_code == 404

    bad = api.get(SUBS, params={"page_id": "garbage!"})
    assert bad.status_code == 400 and error_of(bad)["code"] == "INVALID_PAGE_ID"
    for limit in (0, 101):
        assert api.get(SUBS, params={"limit": limit}).status_code == 400

    # Another credential sees none of them and may not touch them.
    api.post("/_sandbox/credentials", json={"apiKey": "other-key"}).raise_for_status()
    other = {"X-SmartToken": "other-key"}
    assert api.get(SUBS, headers=other).json() == []
    r = api.get(f"{SUBS}/{first['id']}", headers=other)
    assert r.status_code == 403 and error_of(r)["code"] == "NO_PERMISSION_TO_MANAGE_WEBHOOKS"
    assert api.delete(f"{SUBS}/{first['id']}", headers=other).status_code == 403


def test_scopes_are_checked(api: httpx.Client, receiver: Receiver) -> None:
    api.post(
        "/_sandbox/credentials", json={"apiKey": "reader", "scopes": ["webhooks_read"]}
    ).raise_for_status()
    r = api.post(
        SUBS,
        json={"callbackUrl": receiver.url, "events": ["job.created"]},
        headers={"X-SmartToken": "reader"},
    )
    assert r.status_code == 403 and error_of(r)["code"] == "NO_PERMISSION_TO_MANAGE_WEBHOOKS"
    assert api.get(SUBS, headers={"X-SmartToken": "reader"}).status_code == 200


def _body(**kw: Any) -> dict[str, Any]:
    return {"callbackUrl": "https://example.com/h", "events": ["job.created"], **kw}


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (_body(callbackUrl="not a url"), "callbackUrl", "https"),
        (_body(callbackUrl="ftp://example.com/x"), "callbackUrl", "https"),
        (_body(callbackUrl="http://example.com/x"), "callbackUrl", "https"),
        ({"events": ["job.created"]}, "callbackUrl", "required"),
        (_body(events=["job.exploded"]), "events[0]", "job.exploded"),
        (_body(events=[]), "events", "non-empty"),
        (_body(events="job.created"), "events", "array"),
        (_body(events=["job.created", "job.created"]), "events[1]", "twice"),
        (_body(alertingEmailAddress="nope"), "alertingEmailAddress", "email"),
        (
            _body(callbackAuthentication={"type": "header", "headerName": "T", "headerValue": "v"}),
            "callbackAuthentication.headerName",
            "X-",
        ),
        (
            _body(callbackAuthentication={"type": "basic", "username": "u"}),
            "callbackAuthentication.password",
            "required",
        ),
    ],
)
def test_validation_names_the_field(
    api: httpx.Client, body: dict[str, Any], path: str, words: str
) -> None:
    r = api.post(SUBS, json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["dataPath"] == path and words in e["message"] for e in errors), errors
    assert api.get(SUBS).json() == []


def test_malformed_body_is_400(api: httpx.Client) -> None:
    r = api.post(SUBS, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "INVALID_REQUEST_BODY"
    r = api.post(SUBS, json=["job.created"])
    assert r.status_code == 400


def test_at_most_20_subscriptions_per_credential(api: httpx.Client, receiver: Receiver) -> None:
    ids = [subscribe(api, receiver.url, ["job.created"])["id"] for _ in range(20)]
    r = api.post(SUBS, json={"callbackUrl": receiver.url, "events": ["job.created"]})
    assert r.status_code == 403 and error_of(r)["code"] == "SUBSCRIPTIONS_LIMIT_EXCEEDED"
    # The limit is per subscriber: another credential still has room.
    api.post("/_sandbox/credentials", json={"apiKey": "second"}).raise_for_status()
    r = api.post(
        SUBS,
        json={"callbackUrl": receiver.url, "events": ["job.created"]},
        headers={"X-SmartToken": "second"},
    )
    assert r.status_code == 201
    assert api.delete(f"{SUBS}/{ids[0]}").status_code == 204
    assert (
        api.post(SUBS, json={"callbackUrl": receiver.url, "events": ["job.created"]}).status_code
        == 201
    )
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    assert len(api.get(SUBS, params=params).json()) == 20
    params["limit"] = 7
    while True:
        r = api.get(SUBS, params=params)
        seen += [s["id"] for s in r.json()]
        if "link" not in r.headers:
            break
        link = r.headers["link"]
        params["page_id"] = httpx.URL(link[link.index("<") + 1 : link.index(">")]).params["page_id"]
    assert len(seen) == len(set(seen)) == 20 and set(ids[1:]) <= set(seen)


# ---- activation ------------------------------------------------------------------------------
def test_handshake_activates(api: httpx.Client, receiver: Receiver) -> None:
    sub = subscribe(
        api,
        receiver.url,
        ["candidate.updated"],
        callbackAuthentication={"type": "header", "headerName": "X-Token", "headerValue": "tok-9"},
    )
    r = api.put(f"{SUBS}/{sub['id']}/activation")
    assert r.status_code == 204, r.text
    assert len(receiver.handshakes) == 1
    hs = receiver.handshakes[0]
    assert len(hs["x-hook-secret"]) >= 16 and hs["x-token"] == "tok-9"
    assert api.get(f"{SUBS}/{sub['id']}").json()["status"] == "active"
    again = api.put(f"{SUBS}/{sub['id']}/activation")
    assert again.status_code == 409 and error_of(again)["code"] == "SUBSCRIPTION_ALREADY_ACTIVE"
    assert len(receiver.handshakes) == 1


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("none", "did not echo"),
        ("wrong", "different X-Hook-Secret"),
        ("500", "HTTP 500"),
        ("hang", "within 0.3 s"),
        ("unreachable", "could not be reached"),
    ],
)
def test_handshake_failures(
    api: httpx.Client, receiver: Receiver, mode: str, words: str, refused_port: int
) -> None:
    receiver.handshake = mode
    url = f"http://127.0.0.1:{refused_port}/hook" if mode == "unreachable" else receiver.url
    if mode == "hang":
        api.post("/_sandbox/webhooks/settings", json={"handshakeTimeoutSeconds": 0.3})
    sub = subscribe(api, url, ["candidate.updated"])
    r = api.put(f"{SUBS}/{sub['id']}/activation")
    receiver.release.set()
    assert r.status_code == 424, r.text
    err = error_of(r)
    assert err["code"] == "WEBHOOK_HANDSHAKE_FAILED" and words in err["message"]
    for hs in receiver.handshakes:
        assert hs["x-hook-secret"] not in r.text
    assert api.get(f"{SUBS}/{sub['id']}").json()["status"] == "inactive"
    # An inactive subscription gets no deliveries.
    change_status(api, open_application(api))
    assert flush(api)["delivered"] == 0 and receiver.deliveries == []


# ---- deliveries --------------------------------------------------------------------------------
def test_signed_delivery_of_a_status_change(
    api: httpx.Client, receiver: Receiver, wh_sandbox: ThreadServer
) -> None:
    sub = active(api, receiver, ["application.status.updated"])
    other = active(api, receiver, ["candidate.deleted"])  # not this event
    app = open_application(api)
    change_status(api, app, "INTERVIEW")
    assert flush(api)["delivered"] == 1
    assert len(receiver.deliveries) == 1
    d = receiver.deliveries[0]
    assert d.json == {
        "job_id": app["jobId"],
        "candidate_id": app["candidateId"],
        "application_id": app["id"],
    }
    h = d.headers
    assert h["event-name"] == "application.status.updated"
    assert h["event-version"] == "v201910"
    assert h["content-type"] == "application/json"
    path = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}"
    assert h["link"] == f"<{wh_sandbox.base_url}{path}>; rel=self"
    assert verify_request(sub["key"], h, d.body).ok
    assert not verify_request(other["key"], h, d.body).ok
    # The Link leads to the application, now in the new status.
    linked = api.get(h["link"][1 : h["link"].index(">")])
    assert linked.status_code == 200 and linked.json()["status"] == "INTERVIEW"

    log = api.get(f"{SUBS}/{sub['id']}/callbacks-log")
    assert log.status_code == 200
    [entry] = log.json()
    assert entry["status"] == "successful"
    assert entry["requestDetails"]["url"] == receiver.url
    assert entry["requestDetails"]["body"] == d.body.decode()
    assert entry["requestDetails"]["headers"]["event-id"] == h["event-id"]
    assert api.get(f"{SUBS}/{other['id']}/callbacks-log").json() == []
    [delivery] = truth(api)["deliveries"]
    assert delivery["eventId"] == h["event-id"] and delivery["state"] == "delivered"


def test_deleted_candidate_has_no_link(api: httpx.Client, receiver: Receiver) -> None:
    sub = active(api, receiver, ["candidate.deleted"])
    cid = open_application(api)["candidateId"]
    api.post(f"/_sandbox/candidates/{cid}/delete").raise_for_status()
    flush(api)
    [d] = receiver.deliveries
    assert d.json == {"id": cid} and "link" not in d.headers
    assert verify_request(sub["key"], d.headers, d.body).ok


def test_callback_credentials_are_sent_but_not_logged(
    api: httpx.Client, receiver: Receiver
) -> None:
    sub = subscribe(
        api,
        receiver.url,
        ["candidate.updated"],
        callbackAuthentication={"type": "basic", "username": "hook", "password": "pw-77"},
    )
    assert api.put(f"{SUBS}/{sub['id']}/activation").status_code == 204
    cid = open_application(api)["candidateId"]
    api.post(f"/_sandbox/candidates/{cid}/update", json={"phoneNumber": "+15550001"})
    flush(api)
    [d] = receiver.deliveries
    assert d.headers["authorization"] == "Basic aG9vazpwdy03Nw=="  # hook:pw-77
    assert "smartrecruiters-signature" not in d.headers  # no secret key yet
    log = api.get(f"{SUBS}/{sub['id']}/callbacks-log").text
    assert "aG9vazpwdy03Nw" not in log and "pw-77" not in log and "<redacted>" in log
    assert "pw-77" not in api.get("/_sandbox/webhooks").text


def test_key_rotation(api: httpx.Client, receiver: Receiver) -> None:
    sub = active(api, receiver, ["application.status.updated"])
    old = sub["key"]
    app = open_application(api)
    change_status(api, app, "IN_REVIEW")
    flush(api)
    r = api.post(f"{SUBS}/{sub['id']}/secret-key")
    assert r.status_code == 201
    new = r.json()["secretKey"]
    assert new != old and api.get(f"{SUBS}/{sub['id']}/secret-key").json() == {"secretKey": new}
    change_status(api, app, "INTERVIEW")
    flush(api)
    # The old key stays valid 24 h: both sign, each alone verifies.
    api.post("/_sandbox/clock", json={"advance": 23 * 3600}).raise_for_status()
    change_status(api, app, "OFFERED")
    flush(api)
    api.post("/_sandbox/clock", json={"advance": 3600 + 1}).raise_for_status()
    change_status(api, app, "REJECTED")
    flush(api)
    d1, d2, d3, d4 = receiver.deliveries
    entries = [
        len(parse_signature_header(d.headers["smartrecruiters-signature"]))
        for d in receiver.deliveries
    ]
    assert entries == [1, 2, 2, 1]

    # Sandbox time moved a day ahead of the wall clock: check signatures, not freshness.
    def ok(key: str, d: Received) -> bool:
        return verify_request(key, d.headers, d.body, tolerance_seconds=None).ok

    assert ok(old, d1) and not ok(new, d1)
    assert ok(old, d2) and ok(new, d2) and ok(old, d3) and ok(new, d3)
    assert ok(new, d4) and not ok(old, d4)
    assert (
        int(d4.headers["smartrecruiters-timestamp"]) - int(d2.headers["smartrecruiters-timestamp"])
        >= 24 * 3600
    )
    assert [s["validKeys"] for s in truth(api)["subscriptions"]] == [1]


def test_secret_key_errors(api: httpx.Client, receiver: Receiver) -> None:
    sub = subscribe(api, receiver.url, ["job.created"])
    r = api.get(f"{SUBS}/{sub['id']}/secret-key")
    assert r.status_code == 404 and error_of(r)["code"] == "SECRET_KEY_NOT_FOUND"
    for _ in range(16):
        assert api.post(f"{SUBS}/{sub['id']}/secret-key").status_code == 201
    r = api.post(f"{SUBS}/{sub['id']}/secret-key")
    assert r.status_code == 403 and error_of(r)["code"] == "SECRET_KEYS_LIMIT_EXCEEDED"
    assert api.post(f"{SUBS}/nope/secret-key").status_code == 404


def test_retries_on_the_schedule_with_a_stable_event_id(
    api: httpx.Client, receiver: Receiver
) -> None:
    api.post("/_sandbox/webhooks/settings", json={"autoRetry": False}).raise_for_status()
    sub = active(api, receiver, ["application.status.updated"])
    receiver.statuses = [500, 500]
    change_status(api, open_application(api))
    assert flush(api)["pending"] == 1
    [d] = truth(api)["deliveries"]
    assert [a["statusCode"] for a in d["attempts"]] == [500]
    gap = _seconds(d["nextAttemptAt"]) - _seconds(d["attempts"][0]["at"])
    assert abs(gap - 60) < 0.002  # first redelivery: 1 minute after the attempt (ms precision)

    assert flush(api, "due")["started"] == 0  # not due yet
    api.post("/_sandbox/clock", json={"advance": 60}).raise_for_status()
    assert flush(api, "due")["started"] == 1
    [d] = truth(api)["deliveries"]
    gap = _seconds(d["nextAttemptAt"]) - _seconds(d["attempts"][1]["at"])
    assert abs(gap - 180) < 0.002  # then 3 minutes
    assert flush(api, "all")["delivered"] == 1

    assert len(receiver.deliveries) == 3
    assert len({r.headers["event-id"] for r in receiver.deliveries}) == 1
    for r in receiver.deliveries:
        assert verify_request(sub["key"], r.headers, r.body, tolerance_seconds=None).ok
    log = api.get(f"{SUBS}/{sub['id']}/callbacks-log").json()
    assert [e["status"] for e in log] == ["successful", "failed", "failed"]
    assert [e["attempt"] for e in log] == [3, 2, 1]
    assert log[1]["responseDetails"]["statusCode"] == 500
    failed = api.get(f"{SUBS}/{sub['id']}/callbacks-log", params={"callbackStatus": "failed"})
    assert len(failed.json()) == 2
    one = api.get(f"{SUBS}/{sub['id']}/callbacks-log", params={"limit": 1})
    assert one.json() == log[:1] and "page_id=" in one.headers["link"]
    link = one.headers["link"]
    next_url = link[link.index("<") + 1 : link.index(">")]
    # The cursor is tied to its filters (a page size may change between pages).
    assert api.get(next_url + "&callbackStatus=failed").status_code == 400
    assert api.get(next_url.replace("limit=1", "limit=5")).json() == log[1:]
    assert api.get(next_url).json() == log[1:2]


def test_redeliveries_stop_after_ten(api: httpx.Client, receiver: Receiver) -> None:
    api.post("/_sandbox/webhooks/settings", json={"autoRetry": False}).raise_for_status()
    active(api, receiver, ["application.status.updated"], key=False)
    receiver.statuses = [503] * 20
    change_status(api, open_application(api))
    flush(api)
    for _ in range(12):
        flush(api, "all")
    [d] = truth(api)["deliveries"]
    assert d["state"] == "failed" and d["nextAttemptAt"] is None
    assert len(d["attempts"]) == 11 == len(receiver.deliveries)


def test_scaled_schedule_retries_by_itself(api: httpx.Client, receiver: Receiver) -> None:
    # 1 min and 3 min of schedule become 6 ms and 18 ms: the sandbox's own scheduler retries.
    api.post("/_sandbox/webhooks/settings", json={"retryScale": 0.0001}).raise_for_status()
    active(api, receiver, ["application.status.updated"])
    receiver.statuses = [500, 500]
    change_status(api, open_application(api))
    receiver.wait_for(3)
    flush(api)
    [d] = truth(api)["deliveries"]
    assert d["state"] == "delivered" and [a["statusCode"] for a in d["attempts"]] == [500, 500, 202]


def test_slow_receiver_counts_as_failed(api: httpx.Client, receiver: Receiver) -> None:
    api.post(
        "/_sandbox/webhooks/settings", json={"deliveryTimeoutSeconds": 0.3, "autoRetry": False}
    ).raise_for_status()
    active(api, receiver, ["application.status.updated"])
    receiver.hang_deliveries = True
    change_status(api, open_application(api))
    flush(api)
    receiver.release.set()
    [d] = truth(api)["deliveries"]
    assert d["state"] == "pending" and d["attempts"][0]["error"] == "no answer within 0.3 s"


def test_deleting_a_subscription_cancels_its_redeliveries(
    api: httpx.Client, receiver: Receiver
) -> None:
    api.post("/_sandbox/webhooks/settings", json={"autoRetry": False}).raise_for_status()
    sub = active(api, receiver, ["application.status.updated"])
    receiver.statuses = [500]
    change_status(api, open_application(api))
    flush(api)
    assert api.delete(f"{SUBS}/{sub['id']}").status_code == 204
    assert flush(api, "all")["started"] == 0
    assert truth(api)["counts"]["cancelled"] == 1 and len(receiver.deliveries) == 1


def test_live_activity_deliveries_all_verify(api: httpx.Client, receiver: Receiver) -> None:
    events = [
        "application.created",
        "application.status.updated",
        "candidate.created",
        "candidate.updated",
        "candidate.deleted",
        "offer.created",
        "offer.updated",
    ]
    sub = active(api, receiver, events)
    api.post("/_sandbox/activity", json={"steps": 30}).raise_for_status()
    api.post("/_sandbox/hire", json=_ids(open_application(api))).raise_for_status()
    result = flush(api)
    t = truth(api)
    assert result["delivered"] == len(t["deliveries"]) == len(receiver.deliveries) > 5
    names = {d.headers["event-name"] for d in receiver.deliveries}
    assert {"offer.updated", "application.status.updated"} <= names <= set(events)
    snap = api.get("/_sandbox/snapshot", params={"include": "deleted"}).json()
    deleted = set(snap["deleted"]["candidates"])
    for d in receiver.deliveries:
        assert verify_request(sub["key"], d.headers, d.body).ok
        ids = d.json
        assert set(ids) <= {"id", "job_id", "candidate_id", "application_id", "offer_id"}
        # Each Link leads to its resource, unless the candidate was deleted since.
        if "link" in d.headers and not deleted & set(ids.values()):
            assert _link_target(api, d.headers["link"]).status_code == 200, d.headers
    assert len({d.headers["event-id"] for d in receiver.deliveries}) == len(receiver.deliveries)


def test_reset_drops_subscriptions(api: httpx.Client, receiver: Receiver) -> None:
    active(api, receiver, ["application.status.updated"])
    api.post("/_sandbox/reset").raise_for_status()
    assert api.get(SUBS).json() == []
    change_status(api, open_application(api))
    assert flush(api)["delivered"] == 0 and receiver.deliveries == []


def test_control_settings_validation(api: httpx.Client) -> None:
    r = api.post("/_sandbox/webhooks/settings", json={"retryScale": -1})
    assert r.status_code == 400 and "retryScale" in r.text
    r = api.post("/_sandbox/webhooks/flush", json={"retries": "some"})
    assert r.status_code == 400 and "retries" in r.text
    s = api.post("/_sandbox/webhooks/settings", json={}).json()
    assert s["scheduleMinutes"][:5] == [1, 3, 10, 45, 120] and s["scheduleMinutes"][-1] == 1440


def _link_target(api: httpx.Client, link: str) -> httpx.Response:
    return api.get(link[link.index("<") + 1 : link.index(">")])


def _ids(app: dict[str, Any]) -> dict[str, str]:
    return {"candidateId": app["candidateId"], "jobId": app["jobId"]}


def _seconds(stamp: str) -> float:
    from syncd.sandbox.timefmt import parse_iso

    return parse_iso(stamp)
