"""The error boundary's pieces: classification to exit codes, database messages without values,
unknown setting names with the closest valid one, tables that fold instead of cutting."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from syncd.ats import AuthenticationError, PermissionDeniedError, TransportError
from syncd.cli_errors import (
    BUSY,
    DATABASE,
    EXIT_CODES,
    FAILED,
    REFUSED,
    USAGE,
    CommandError,
    Interrupted,
    classify,
)
from syncd.config import ConfigError, check_environment, check_toml_keys
from syncd.mirror.db import SchemaError, describe_db_error
from syncd.mirror.lock import Holder, MirrorBusyError, MirrorNotWritableError, lock_key


class FakeDiag:
    message_primary = 'invalid input syntax for type integer: "Jane Doe"'


class FakePgError(Exception):
    diag = FakeDiag()


def test_known_failures_map_to_documented_codes() -> None:
    cases: list[tuple[BaseException, int]] = [
        (ConfigError("invalid settings:\n  SYNCD_X: bad"), USAGE),
        (SchemaError("run `syncd migrate` first"), USAGE),
        (CommandError("no credentials", USAGE), USAGE),
        (AuthenticationError("refused", method="GET", path="/jobs", status=401), REFUSED),
        (PermissionDeniedError("no scope", method="GET", path="/jobs", status=403), REFUSED),
        (TransportError("could not connect", method="GET", path="/jobs"), FAILED),
        (MirrorBusyError("m.db", Holder("vm", 42, "2026-11-29T12:00:00Z")), BUSY),
        (MirrorNotWritableError("the folder /x is not writable"), DATABASE),
        (Interrupted(signal.SIGTERM), 143),
        (Interrupted(signal.SIGINT), 130),
        (KeyboardInterrupt(), 130),
    ]
    for exc, code in cases:
        known = classify(exc)
        assert known is not None and known[0] == code, (exc, known)
        assert code in EXIT_CODES
    assert classify(ValueError("something new")) is None


def test_busy_message_names_the_holder() -> None:
    exc = MirrorBusyError("m.db", Holder("vm", 42, "2026-11-29T12:00:00Z"))
    assert str(exc) == (
        "another syncd is writing to the mirror m.db (pid 42 on vm, since 2026-11-29T12:00:00Z); "
        "wait for it to end or stop it (a killed process frees the lock by itself)"
    )


def test_database_messages_carry_no_statement_parameters_or_values() -> None:
    pg = DBAPIError(
        "INSERT INTO candidates (first_name) VALUES (%(first_name)s)",
        {"first_name": "Jane Doe"},
        FakePgError("invalid input syntax\nDETAIL:  Failing row contains (Jane Doe, jane@x.org)"),
        hide_parameters=True,
    )
    text = describe_db_error(pg)
    assert text == "DBAPIError: invalid input syntax for type integer: (value hidden)"
    lite = IntegrityError(
        "INSERT INTO t VALUES (?)", ("jane@x.org",), Exception("UNIQUE constraint failed: t.x")
    )
    assert describe_db_error(lite) == "IntegrityError: UNIQUE constraint failed: t.x"
    for exc in (pg, lite):
        known = classify(exc)
        assert known is not None and known[0] == FAILED
        assert "Jane" not in known[1] and "jane@x.org" not in known[1] and "INSERT" not in known[1]


def test_a_refused_connection_is_a_database_error() -> None:
    exc = OperationalError(None, None, Exception("connection refused"))
    known = classify(exc)
    assert known is not None and known[0] == DATABASE
    assert "cannot connect to the mirror database" in known[1]


def test_unknown_variables_name_the_closest_setting() -> None:
    lines = check_environment(
        {
            "SYNCD_SMARTRECRUITERS__RATELIMIT": "5",
            "SYNCD_DATABSE_URL": "x",
            "SYNCD_SYNC__LAG_WINDOW": "3",
            "SYNCD_SMARTRECRUITERS__API_KEY_FILE": "/run/key",
            "SYNCD_CONFIG": "/etc/syncd.toml",
            "SYNCD_TEST_POSTGRES_URL": "postgresql://x",
            "SYNCD_TENANT": "acme",
            "SYNCD_ZZZ": "1",
            "PATH": "/bin",
        }
    )
    assert lines == [
        "SYNCD_DATABSE_URL: unknown setting; did you mean SYNCD_DATABASE_URL?",
        "SYNCD_SMARTRECRUITERS__RATELIMIT: unknown setting; did you mean "
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT?",
        "SYNCD_SYNC__LAG_WINDOW: unknown setting; did you mean SYNCD_SYNC__LAG_WINDOW_SECONDS?",
        "SYNCD_ZZZ: unknown setting; remove it or check its spelling",
    ]


def test_unknown_toml_keys_name_file_table_and_closest_key() -> None:
    lines = check_toml_keys(
        {"tenant": "x", "smartrecruiters": {"rate_limt": 5, "timeout": 3}, "snyc": {}}, "s.toml"
    )
    assert lines == [
        "SYNCD_CONFIG (s.toml): [smartrecruiters] rate_limt: unknown key; did you mean rate_limit?",
        "SYNCD_CONFIG (s.toml): snyc: unknown key; did you mean sync?",
    ]


def test_lock_keys_differ_by_schema_and_tenant() -> None:
    keys = {lock_key(schema, tenant) for schema in ("public", "t_1") for tenant in ("a", "b")}
    assert len(keys) == 4
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_wide_tables_fold_instead_of_cutting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.cli_tables import print_table

    monkeypatch.setenv("COLUMNS", "80")
    columns = ["resource", "cursor", "mode", "status", "ended", "next run resumes"]
    row = ["candidates", "2026-11-29T10:22:33Z", "incremental", "interrupted",
           "2026-11-29T10:27:55Z", "incremental from its checkpoint"]  # fmt: skip
    print_table("wide", columns, [row, row])
    out = capsys.readouterr().out
    assert "…" not in out and all(len(line) <= 80 for line in out.splitlines())
    assert out.count("  next run resumes: incremental from its checkpoint") == 2
    print_table("narrow", ["table", "live"], [["jobs", 20]])
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "narrow" and "table" in out and "jobs" in out


def test_a_full_disk_is_a_database_error() -> None:
    import sqlite3

    exc = OperationalError("INSERT ...", None, sqlite3.OperationalError("database or disk is full"))
    known = classify(exc)
    assert known is not None and known[0] == DATABASE
    assert (
        "is full (OperationalError: database or disk is full): free space and rerun" in (known[1])
    )


def test_optional_and_dict_settings_are_walked() -> None:
    """Settings added later as ``Model | None`` or ``dict[str, ...]`` (a table of named sinks)
    are checked the same way: known below a model, anything below a dict."""
    from typing import Any

    from pydantic import BaseModel

    from syncd.config import _unknown_path

    class Sink(BaseModel):
        url: str = ""

    class Root(BaseModel):
        sink: Sink | None = None
        sinks: dict[str, Sink] = {}
        extra: dict[str, Any] | None = None

    assert _unknown_path(["sink", "url"], Root) is None
    assert _unknown_path(["sink", "ulr"], Root) == (1, "url")
    assert _unknown_path(["sinks", "bamboohr", "url"], Root) is None
    assert _unknown_path(["extra", "anything"], Root) is None


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["push", "--interval", "nan"], "--interval"),
        (["push", "--interval", "inf"], "--interval"),
        (["push", "--interval", "1e400"], "--interval"),
        (["sandbox", "serve", "--activity", "nan"], "--activity"),
        (["sandbox", "serve", "--fault-timeout", "inf"], "--fault-timeout"),
        (["demo", "--run-seconds", "1e400"], "--run-seconds"),
        (["sandbox", "serve", "--token-ttl", "99999999999999999999999"], "--token-ttl"),
    ],
)
def test_number_options_outside_their_range_are_usage_errors(args: list[str], option: str) -> None:
    """``nan``, ``inf`` and huge values: exit 2 naming the option and its range, before any
    work (never an OverflowError, a busy loop or a sleep that never ends)."""
    from click.testing import CliRunner

    from syncd.cli import main

    out = CliRunner().invoke(main, args)
    assert out.exit_code == 2, out.output
    assert f"Invalid value for '{option}'" in out.output and "is not" in out.output
    assert "in the range" in out.output


def test_passes_that_failed_while_others_ran_exit_with_the_worst_code() -> None:
    """``PassesFailed``: each failed resource's line, the worst of their codes; an error syncd
    does not know is named by its type only (its message may quote a value)."""
    from syncd.ats import BadRequestError
    from syncd.mirror.store import utcnow
    from syncd.sync.checkpoints import PageTokensRefused
    from syncd.sync.passes import PassesFailed, PassReport

    reports = [PassReport(n, "incremental", "failed", None, utcnow()) for n in ("a", "b", "c")]
    refused = PageTokensRefused("audit", "INVALID_PAGE_ID")
    denied = PermissionDeniedError("no", method="GET", path="/offers", status=403)
    odd = ValueError("Jane Doe")
    known = classify(PassesFailed(reports, [("audit", refused), ("offers", denied)]))
    assert known is not None and known[0] == REFUSED
    assert known[1].startswith(
        "audit: failed: SmartRecruiters refused the walk's page token again (INVALID_PAGE_ID)"
    )
    assert "; offers: failed: SmartRecruiters refused the credentials or their role" in known[1]
    bad = BadRequestError("x", method="GET", path="/jobs", status=400)
    known = classify(PassesFailed(reports, [("jobs", bad), ("offers", odd)]))
    assert known is not None and known[0] == FAILED
    assert known[1].endswith("; offers: failed: ValueError") and "Jane" not in known[1]
    assert (
        str(PassesFailed(reports, [("offers", odd)])) == "1 of 3 passes failed (offers: ValueError)"
    )
