"""The package metadata in pyproject.toml uses the current forms, so that ``pip install`` (``make
demo``) prints no setuptools deprecation warnings."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # PEP 639: a string holding an SPDX expression (a table is deprecated since setuptools 77,
    # the first version that reads the string).
    assert data["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in data["build-system"]["requires"]
    assert not [c for c in data["project"].get("classifiers", []) if c.startswith("License ::")]
