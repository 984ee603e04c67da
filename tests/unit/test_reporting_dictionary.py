"""docs/reporting.md is generated from the schema, the migrations' views and dictionary.toml: every
column is described, nothing described is missing, and the checked-in file is up to date."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from syncd.mirror import dictionary
from syncd.mirror.dictionary import problems, reflect_migrations, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reporting.md"


@pytest.fixture(scope="module")
def found() -> dictionary.Reflected:
    return reflect_migrations()


def test_every_column_of_every_table_and_view_is_described(found: dictionary.Reflected) -> None:
    assert problems(found) == []
    assert {v for v in found.views if v.startswith("report_")} == set(dictionary.report_views())
    assert len(dictionary.report_views()) >= 12


def test_checked_in_docs_are_up_to_date() -> None:
    assert DOCS.read_text() == render(), (
        "docs/reporting.md is out of date: run python -m syncd.mirror.dictionary"
    )


def test_an_undescribed_column_or_view_is_reported(
    found: dictionary.Reflected, monkeypatch: pytest.MonkeyPatch
) -> None:
    desc: dict[str, Any] = copy.deepcopy(dictionary.descriptions())
    del desc["tables"]["offers"]["columns"]["status"]
    del desc["tables"]["positions"]
    desc["tables"]["jobs"]["columns"]["salary"] = "not a column"
    del desc["views"]["report_funnel"]["columns"]["reached"]
    monkeypatch.setattr(dictionary, "descriptions", lambda: desc)
    monkeypatch.setattr(dictionary, "views", dictionary.views.__wrapped__)
    got = problems(found)
    assert "offers.status: no description in dictionary.toml" in got
    assert "table positions: not described in dictionary.toml [tables.positions]" in got
    assert "jobs.salary: described but not a column" in got
    assert any(p.startswith("view report_funnel: columns") for p in got)
    assert "**undescribed**" in render()
