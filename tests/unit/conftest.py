"""Fixtures shared by the unit tests: a migrated SQLite mirror in the test's directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import sqlite_mirror


@pytest.fixture
def db(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Engine]:
    eng = sqlite_mirror(migrated_sqlite, tmp_path / "m.db")
    yield eng
    eng.dispose()
