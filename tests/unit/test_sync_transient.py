"""A pass the database rolled back for a deadlock runs again from its checkpoint; any other
error ends the pass at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from syncd.mirror.db import transient_db_error
from syncd.sync.engine import TRANSIENT_TRIES, Engine


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("deadlock detected")
        self.sqlstate = sqlstate


def _db_error(sqlstate: str) -> OperationalError:
    return OperationalError("UPDATE candidates SET ...", {"p": "x"}, _Orig(sqlstate))


class _Fake:
    """Stands in for the engine: ``run_resource`` fails ``failures`` times, then reports."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0
        self.run_id = "run-1"  # bound to the log context for the pass

    async def run_resource(self, res: Any, mode: str, since: Any = None) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "report"


class _Res:
    name = "candidates"


def _run(fake: _Fake) -> Any:
    return asyncio.run(Engine._pass(fake, _Res(), "backfill"))  # type: ignore[arg-type]


def test_deadlocks_are_transient_other_errors_are_not() -> None:
    assert transient_db_error(_db_error("40P01")) and transient_db_error(_db_error("40001"))
    assert not transient_db_error(_db_error("23505"))  # unique_violation: about a record
    assert not transient_db_error(ValueError("x"))


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("syncd.sync.engine.TRANSIENT_WAIT_SECONDS", 0.0)


def test_a_deadlocked_pass_runs_again() -> None:
    fake = _Fake([_db_error("40P01"), _db_error("40001")])
    assert _run(fake) == "report" and fake.calls == 3


def test_retries_are_bounded_and_other_errors_raise_at_once() -> None:
    fake = _Fake([_db_error("40P01")] * TRANSIENT_TRIES)
    with pytest.raises(OperationalError):
        _run(fake)
    assert fake.calls == TRANSIENT_TRIES
    other = _Fake([_db_error("23505")])
    with pytest.raises(OperationalError):
        _run(other)
    assert other.calls == 1
