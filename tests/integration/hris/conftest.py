"""Fixtures for the HRIS sandbox tests: a fresh BambooHR or Personio sandbox per test, served by
uvicorn on 127.0.0.1, and clients already authenticated the vendor's way.

Every exchange of a client made here is recorded; when ../shared is present, each test ends by
checking its exchanges against the vendor's OpenAPI document (``hris_spec``). Without ../shared
the tests run the same and that check is left out."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest

from syncd.hris_sandbox.runner import HrisThreadServer, serve_in_thread
from syncd.hris_sandbox.server import HrisOptions
from tests.conftest import SHARED
from tests.integration.hris.hris_spec import Recorder, SpecDoc

API_KEY = "test-bamboo-key"
CLIENT_ID, CLIENT_SECRET = "test-personio-client", "test-personio-secret"
SEEDED = 5


RECORDERS = {"bamboohr": Recorder(), "personio": Recorder()}


@cache
def spec_doc(vendor: str) -> SpecDoc:
    return SpecDoc(vendor, SHARED)


@pytest.fixture(autouse=True)
def conforms() -> Iterator[None]:
    """After each test: every exchange its clients recorded matches the vendor's spec."""
    for rec in RECORDERS.values():
        rec.exchanges.clear()
    yield
    if not SHARED.is_dir():
        return
    found = [
        f"{vendor}: {ex}: {problem}"
        for vendor, rec in RECORDERS.items()
        for ex in rec.exchanges
        for problem in spec_doc(vendor).problems(ex)
    ]
    assert not found, "exchanges that do not match the spec:\n" + "\n".join(found[:20])


def bamboo_options(**kw: Any) -> HrisOptions:
    return HrisOptions("bamboohr", **{"employees": SEEDED, "api_keys": [API_KEY], **kw})


def personio_options(**kw: Any) -> HrisOptions:
    return HrisOptions(
        "personio", **{"employees": SEEDED, "clients": [(CLIENT_ID, CLIENT_SECRET)], **kw}
    )


@pytest.fixture
def bamboo() -> Iterator[HrisThreadServer]:
    srv = serve_in_thread(bamboo_options())
    yield srv
    srv.stop()


@pytest.fixture
def personio() -> Iterator[HrisThreadServer]:
    srv = serve_in_thread(personio_options())
    yield srv
    srv.stop()


def bamboo_client(base_url: str, key: str = API_KEY, **kw: Any) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        auth=(key, "x"),
        timeout=kw.pop("timeout", 10),
        event_hooks={"response": [RECORDERS["bamboohr"]]},
        **kw,
    )


def personio_token(base_url: str, cid: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    r = httpx.post(f"{base_url}/v1/auth", json={"client_id": cid, "client_secret": secret})
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["token"])


def personio_client(base_url: str, token: str | None = None, **kw: Any) -> httpx.Client:
    bearer = token or personio_token(base_url)
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=kw.pop("timeout", 10),
        event_hooks={"response": [RECORDERS["personio"]]},
        **kw,
    )


@pytest.fixture
def bclient(bamboo: HrisThreadServer) -> Iterator[httpx.Client]:
    with bamboo_client(bamboo.base_url) as c:
        yield c


@pytest.fixture
def pclient(personio: HrisThreadServer) -> Iterator[httpx.Client]:
    with personio_client(personio.base_url) as c:
        yield c


def control(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST to the control API (GET when ``body`` is None and the path is a read)."""
    url = f"{base_url}/_sandbox/{path}"
    r = httpx.get(url) if body is None else httpx.post(url, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def employees(base_url: str) -> list[dict[str, Any]]:
    return list(control(base_url, "snapshot")["employees"])
