"""BambooHR employee webhooks from the sandbox to a real receiver on 127.0.0.1: registration
rules, event-based payloads, and a signature the receiver verifies with the documented algorithm
(hex HMAC-SHA256 of the raw body followed by X-BambooHR-Timestamp, keyed with privateKey)."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from syncd.hris_sandbox.runner import HrisThreadServer
from tests.integration.hris.conftest import control

Delivery = tuple[dict[str, str], bytes]


class Receiver:
    def __init__(self) -> None:
        self.got: queue.Queue[Delivery] = queue.Queue()
        self.fail_next = 0
        received = self.got
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                failing = owner.fail_next > 0
                owner.fail_next -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if not failing:
                    received.put(({k.lower(): v for k, v in self.headers.items()}, body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bamboohr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self) -> Delivery:
        return self.got.get(timeout=60)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def verify(private_key: str, headers: dict[str, str], body: bytes) -> bool:
    stamp = headers["x-bamboohr-timestamp"]
    expected = hmac.new(private_key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-bamboohr-signature"])


def register(client: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "syncd",
        "url": url,
        "format": "json",
        "events": ["employee.created", "employee.updated"],
        "monitorFields": ["status"],
        **extra,
    }
    r = client.post("/api/v1/webhooks", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_created_and_updated_deliveries_are_signed(
    bamboo: HrisThreadServer, bclient: httpx.Client, receiver: Receiver
) -> None:
    hook = register(bclient, receiver.url)
    assert len(hook["privateKey"]) == 64 and hook["events"] == [
        "employee.created",
        "employee.updated",
    ]
    control(bamboo.base_url, "settings", {"newEmployeeStatus": "Inactive"})
    r = bclient.post("/api/v1/employees", json={"firstName": "Alan", "lastName": "Turing"})
    emp_id = r.headers["Location"].rsplit("/", 1)[1]
    headers, body = receiver.next()
    assert verify(hook["privateKey"], headers, body)
    assert abs(int(headers["x-bamboohr-timestamp"]) - time.time()) < 60
    payload = json.loads(body)
    assert payload["type"] == "employee.created"
    assert payload["data"] == {"companyId": "1", "employeeId": emp_id}
    assert payload["timestamp"].endswith("+0000")

    control(bamboo.base_url, f"employees/{emp_id}/activate", {})
    headers, body = receiver.next()
    assert verify(hook["privateKey"], headers, body)
    assert json.loads(body)["data"] == {
        "companyId": "1",
        "employeeId": emp_id,
        "changedFields": ["status"],
    }
    tampered = body.replace(emp_id.encode(), b"999")
    assert not verify(hook["privateKey"], headers, tampered)
    assert not verify("another-key", headers, body)


def test_a_failed_delivery_is_retried_and_recorded(
    bamboo: HrisThreadServer, bclient: httpx.Client, receiver: Receiver
) -> None:
    register(bclient, receiver.url, events=["employee.created"], monitorFields=[])
    receiver.fail_next = 1
    bclient.post("/api/v1/employees", json={"firstName": "Kathleen", "lastName": "Booth"})
    _, body = receiver.next()
    assert json.loads(body)["type"] == "employee.created"
    # The record is written after the receiver answers; it is the one delivery there is.
    deadline = time.monotonic() + 60
    while True:
        [delivery] = control(bamboo.base_url, "snapshot")["deliveries"]
        if delivery["delivered"] or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # polls a condition with a deadline
    assert delivery["attempts"] == 2 and delivery["status"] == 200


def test_webhooks_are_listed_read_and_deleted(bclient: httpx.Client, receiver: Receiver) -> None:
    hook = register(bclient, receiver.url)
    listed = bclient.get("/api/v1/webhooks").json()["webhooks"]
    assert [(w["id"], w["url"], w["lastSent"]) for w in listed] == [
        (hook["id"], receiver.url, None)
    ]
    got = bclient.get(f"/api/v1/webhooks/{hook['id']}").json()
    assert "privateKey" not in got and got["monitorFields"] == ["status"]
    r = bclient.delete(f"/api/v1/webhooks/{hook['id']}")
    assert (r.status_code, r.text) == (200, "Web hook has been deleted.")
    r = bclient.get(f"/api/v1/webhooks/{hook['id']}")
    assert r.status_code == 404
    assert r.json() == {"errors": [{"error": f"No webhook was found with ID: {hook['id']}."}]}
    assert register(bclient, receiver.url)["id"] == str(int(hook["id"]) + 1)  # ids not reused


@pytest.mark.parametrize(
    ("change", "issue"),
    [
        ({"url": "http://hooks.example.com/x"}, "'url' must begin with https://"),
        ({"monitorFields": []}, "'monitorFields' is required"),
        ({"events": ["employee_with_fields.created"]}, "'events'"),
        ({"format": "form-encoded"}, "json only"),
        ({"name": ""}, "'name' is required"),
        ({"monitorFields": None}, "'monitorFields' must be a list"),
        ({"includeCompanyDomain": "yes"}, "'includeCompanyDomain' must be a bool"),
    ],
)
def test_registration_refusals_name_the_field(
    bclient: httpx.Client, change: dict[str, Any], issue: str
) -> None:
    body = {
        "name": "x",
        "url": "https://hooks.example.com/x",
        "format": "json",
        "events": ["employee.updated"],
        "monitorFields": ["status"],
        **change,
    }
    r = bclient.post("/api/v1/webhooks", json=body)
    assert r.status_code == 400
    [err] = r.json()["errors"]
    assert err["error"] == "Invalid request body"
    assert any(issue in i for i in err["issues"]), err["issues"]
    assert bclient.get("/api/v1/webhooks").json() == {"webhooks": []}
