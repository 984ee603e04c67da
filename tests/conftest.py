"""Shared fixtures: a sandbox served by uvicorn on 127.0.0.1, databases, and the shared/ specs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from syncd.mirror.db import make_engine, migrate
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, closed_port, serve_in_thread
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


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for the whole test (``closed_port``)."""
    with closed_port() as port:
        yield port


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


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite mirror migrated to head once per test process; ``sqlite_mirror`` copies it.
    Migrating takes about a second per database; copying the file takes a millisecond. The
    migrations themselves are run by their own tests (and by every ``syncd migrate`` test)."""
    path = tmp_path_factory.mktemp("template") / "mirror.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    with eng.connect() as conn:  # everything in the main file: the copy needs no -wal file
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    eng.dispose()
    return path


def sqlite_mirror(template: Path, path: Path) -> Engine:
    """An engine on a fresh copy of the migrated ``template`` at ``path``."""
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")
