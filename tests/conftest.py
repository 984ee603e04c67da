"""Shared fixtures: a sandbox served by uvicorn on 127.0.0.1, databases, and the shared/ specs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sandbox.server import SandboxOptions

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TOKEN = "test-token"
CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"


def sandbox_options(**kw: object) -> SandboxOptions:
    base: dict[str, object] = dict(
        seed=7,
        jobs=20,
        candidates=300,
        api_keys=[TOKEN],
        oauth_clients=[(CLIENT_ID, CLIENT_SECRET)],
    )
    base.update(kw)
    return SandboxOptions(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[ThreadServer]:
    """A shared sandbox with real limits. Tests that change the tenant should use ``fresh_sandbox``
    or reset it (``POST /_sandbox/reset``)."""
    srv = serve_in_thread(sandbox_options())
    yield srv
    srv.stop()


@pytest.fixture
def fresh_sandbox() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options())
    yield srv
    srv.stop()


@pytest.fixture
def open_sandbox() -> Iterator[ThreadServer]:
    """A fresh sandbox with limits off, for tests that make many calls."""
    srv = serve_in_thread(sandbox_options(limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


@pytest.fixture
def api(sandbox: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, headers={"X-SmartToken": TOKEN}, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference material not found at {SHARED} (clone without ../shared)")
    return SHARED


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SYNCD_TEST_POSTGRES_URL is not set; PostgreSQL tests skipped")
    return url
