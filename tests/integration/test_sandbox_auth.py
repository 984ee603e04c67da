"""Sandbox authentication over real HTTP: API keys, OAuth2 client credentials (RFC 6749 errors),
bearer expiry on the tenant clock, and the ADMINISTRATOR-only audit API."""

from __future__ import annotations

import base64

import httpx
import pytest

from syncd.sandbox.runner import ThreadServer
from tests.conftest import CLIENT_ID, CLIENT_SECRET, TOKEN

AUDIT = "/audit-api/v201910/audit-events"
FORM = "application/x-www-form-urlencoded"


def _token(
    base_url: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET
) -> httpx.Response:
    return httpx.post(
        f"{base_url}/identity/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


def _bearer(base_url: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    r = _token(base_url, client_id, secret)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _assert_sr_401(r: httpx.Response, message: str) -> None:
    assert r.status_code == 401
    body = r.json()
    assert body == {"message": message, "errors": [{"code": "UNAUTHORIZED", "message": message}]}


def test_api_key_is_accepted(sandbox: ThreadServer) -> None:
    r = httpx.get(f"{sandbox.base_url}/jobs", headers={"X-SmartToken": TOKEN})
    assert r.status_code == 200
    assert r.json()["totalFound"] == 20


def test_unknown_api_key_is_401_without_echoing_it(sandbox: ThreadServer) -> None:
    r = httpx.get(f"{sandbox.base_url}/jobs", headers={"X-SmartToken": "wrong-key-123"})
    _assert_sr_401(r, "Invalid API key")
    assert "wrong-key-123" not in r.text


def test_missing_credentials_is_401(sandbox: ThreadServer) -> None:
    _assert_sr_401(
        httpx.get(f"{sandbox.base_url}/candidates"),
        "Missing credentials: send X-SmartToken or Authorization: Bearer",
    )


def test_client_credentials_grant_issues_a_working_bearer(sandbox: ThreadServer) -> None:
    r = _token(sandbox.base_url)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert len(body["access_token"]) >= 32
    assert r.headers["cache-control"] == "no-store"
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    jobs = httpx.get(f"{sandbox.base_url}/jobs", headers=auth)
    assert jobs.status_code == 200 and jobs.json()["totalFound"] == 20


def test_http_basic_client_authentication(sandbox: ThreadServer) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    r = httpx.post(
        f"{sandbox.base_url}/identity/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    wrong = base64.b64encode(f"{CLIENT_ID}:nope".encode()).decode()
    r = httpx.post(
        f"{sandbox.base_url}/identity/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {wrong}"},
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"}, 401,
         "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "who", "client_secret": "x"}, 401,
         "invalid_client"),
        ({"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, 400,
         "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_id": CLIENT_ID}, 400, "invalid_request"),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, 400, "invalid_request"),
    ],
    ids=["wrong-secret", "unknown-client", "wrong-grant", "no-secret", "no-grant"],
)  # fmt: skip
def test_token_errors_follow_rfc6749(
    sandbox: ThreadServer, form: dict[str, str], status: int, error: str
) -> None:
    r = httpx.post(f"{sandbox.base_url}/identity/oauth/token", data=form)
    assert r.status_code == status
    body = r.json()
    assert body["error"] == error and body["error_description"]
    assert CLIENT_SECRET not in r.text


def test_token_endpoint_wants_a_form(sandbox: ThreadServer) -> None:
    r = httpx.post(
        f"{sandbox.base_url}/identity/oauth/token",
        json={"grant_type": "client_credentials", "client_id": CLIENT_ID},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_unknown_bearer_is_401(sandbox: ThreadServer) -> None:
    r = httpx.get(f"{sandbox.base_url}/jobs", headers={"Authorization": "Bearer not-issued"})
    _assert_sr_401(r, "Invalid access token")


def test_expired_bearers_via_control_api(fresh_sandbox: ThreadServer) -> None:
    base = fresh_sandbox.base_url
    auth = {"Authorization": f"Bearer {_bearer(base)}"}
    assert httpx.get(f"{base}/jobs", headers=auth).status_code == 200
    assert httpx.post(f"{base}/_sandbox/oauth/expire").json() == {"expired": 1}
    _assert_sr_401(httpx.get(f"{base}/jobs", headers=auth), "Invalid access token")
    # A new token from the same client works again: what a client does on 401.
    fresh = {"Authorization": f"Bearer {_bearer(base)}"}
    assert httpx.get(f"{base}/jobs", headers=fresh).status_code == 200


def test_bearer_expires_on_the_tenant_clock(fresh_sandbox: ThreadServer) -> None:
    base = fresh_sandbox.base_url
    settings = httpx.post(f"{base}/_sandbox/settings", json={"tokenTtl": 60})
    assert settings.json()["tokenTtl"] == 60
    # Frozen, so the only time that passes is the time the test moves.
    assert httpx.post(f"{base}/_sandbox/clock", json={"freeze": True}).status_code == 200
    r = _token(base)
    assert r.json()["expires_in"] == 60
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    httpx.post(f"{base}/_sandbox/clock", json={"advance": 59.9}).raise_for_status()
    assert httpx.get(f"{base}/jobs", headers=auth).status_code == 200
    httpx.post(f"{base}/_sandbox/clock", json={"advance": 0.1}).raise_for_status()
    _assert_sr_401(httpx.get(f"{base}/jobs", headers=auth), "Access token expired")
    # The API key is not affected by bearer expiry.
    assert httpx.get(f"{base}/jobs", headers={"X-SmartToken": TOKEN}).status_code == 200


def test_settings_reject_a_bad_ttl_type(fresh_sandbox: ThreadServer) -> None:
    r = httpx.post(f"{fresh_sandbox.base_url}/_sandbox/settings", json={"tokenTtl": "soon"})
    assert r.status_code == 400
    assert "'tokenTtl' must be integer" in r.json()["message"]


def test_audit_is_administrator_only(fresh_sandbox: ThreadServer) -> None:
    base = fresh_sandbox.base_url
    created = httpx.post(
        f"{base}/_sandbox/credentials", json={"apiKey": "employee-key", "role": "EMPLOYEE"}
    )
    assert created.status_code == 201 and created.json()["role"] == "EMPLOYEE"
    r = httpx.get(f"{base}{AUDIT}", headers={"X-SmartToken": "employee-key"})
    assert r.status_code == 403
    err = r.json()["errors"][0]
    assert err["code"] == "PERMISSION_DENIED" and "ADMINISTRATOR" in err["message"]
    # The same employee may read what its role allows.
    assert httpx.get(f"{base}/jobs", headers={"X-SmartToken": "employee-key"}).status_code == 200
    assert httpx.get(f"{base}{AUDIT}", headers={"X-SmartToken": TOKEN}).status_code == 200


def test_audit_is_administrator_only_for_oauth_clients(fresh_sandbox: ThreadServer) -> None:
    base = fresh_sandbox.base_url
    httpx.post(
        f"{base}/_sandbox/credentials",
        json={"clientId": "emp-client", "clientSecret": "emp-secret", "role": "EMPLOYEE"},
    ).raise_for_status()
    auth = {"Authorization": f"Bearer {_bearer(base, 'emp-client', 'emp-secret')}"}
    assert httpx.get(f"{base}{AUDIT}", headers=auth).status_code == 403
    admin = {"Authorization": f"Bearer {_bearer(base)}"}
    assert httpx.get(f"{base}{AUDIT}", headers=admin).status_code == 200


def test_credentials_endpoint_names_what_is_missing(fresh_sandbox: ThreadServer) -> None:
    r = httpx.post(f"{fresh_sandbox.base_url}/_sandbox/credentials", json={"clientId": "x"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "INVALID_CREDENTIAL"
    assert "clientSecret" in r.json()["message"]
