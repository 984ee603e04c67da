"""Fixtures shared by the unit tests: a migrated SQLite mirror in the test's directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from syncd.mirror.db import make_engine, migrate


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(eng)
    yield eng
    eng.dispose()
