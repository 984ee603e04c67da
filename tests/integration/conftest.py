"""Fixtures shared by the integration tests: a fresh mirror database (its URL, or a migrated
engine), SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from syncd.mirror.db import make_engine, migrate, normalize_url, sqlite_path
from tests.conftest import sqlite_mirror


# ---- databases ---------------------------------------------------------------------------------
def pg_schema_url(base: str) -> tuple[str, str]:
    """A fresh PostgreSQL schema per test, selected through the connection's search_path."""
    name = "t_" + uuid.uuid4().hex[:12]
    eng = make_engine(base)
    with eng.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return normalize_url(base) + f"{sep}options=-csearch_path%3D{name}", name


def drop_pg_schema(base: str, name: str) -> None:
    eng = make_engine(base)
    with eng.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    url, name = pg_schema_url(base)
    yield url
    drop_pg_schema(base, name)


@pytest.fixture
def db(db_url: str, migrated_sqlite: Path) -> Iterator[Engine]:
    """The mirror database of ``db_url``, migrated to the head revision (SQLite: a copy of the
    session's migrated file)."""
    path = sqlite_path(db_url)
    if path is not None:
        eng = sqlite_mirror(migrated_sqlite, path)
    else:
        eng = make_engine(db_url)
        migrate(eng)
    yield eng
    eng.dispose()
