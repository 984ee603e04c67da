"""The shipped example configuration loads as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_example_toml_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_CONFIG", str(ROOT / "config" / "syncd.example.toml"))
    s = load_settings()
    assert s.smartrecruiters.timeout == 130 and s.sync.page_size == 100
