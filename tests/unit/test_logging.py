"""Log lines: JSON when not a terminal, and no secret ever rendered."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from syncd.logging import REDACTED, configure_logging, get_logger


def test_json_lines_and_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    log = get_logger(tenant="acme", run_id="r1")
    log.info(
        "token_fetched",
        client_secret=SecretStr("s3cr3t"),
        access_token="abc.def",
        headers={"X-SmartToken": "key-123", "Accept": "application/json"},
        records=3,
    )
    out = capsys.readouterr().err.strip().splitlines()
    assert len(out) == 1
    line = json.loads(out[0])
    assert line["event"] == "token_fetched" and line["tenant"] == "acme" and line["records"] == 3
    assert line["client_secret"] == REDACTED and line["access_token"] == REDACTED
    assert line["headers"]["X-SmartToken"] == REDACTED
    assert line["headers"]["Accept"] == "application/json"
    for secret in ("s3cr3t", "abc.def", "key-123"):
        assert secret not in out[0]


def test_level_filter(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", "json")
    get_logger().info("quiet")
    get_logger().warning("loud")
    out = capsys.readouterr().err
    assert "quiet" not in out and "loud" in out


def test_times_are_iso_8601_with_z(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13, row 8: a cursor (a naive UTC datetime in the mirror) logs as ISO 8601 with Z,
    like the line's own timestamp; and logs go to stderr, never stdout."""
    from datetime import UTC, datetime

    configure_logging("info", "json")
    get_logger().info(
        "pass_started",
        cursor=datetime(2026, 11, 29, 10, 27, 55, 750491),
        nested={"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    line = json.loads(captured.err)
    assert line["cursor"] == "2026-11-29T10:27:55.750491Z"
    assert line["nested"]["at"] == "2026-01-02T03:04:05Z"
    assert line["timestamp"].endswith("Z")


def test_stdlib_logging_of_libraries_is_json_without_sql_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """psycopg's own warning after its session was terminated (stdlib logging) is a JSON line
    with the message's format string alone, never the object or values filling it; SQLAlchemy's
    statement log stays off even at debug (it would carry parameters); another library's
    warning keeps its message; a traceback keeps its exception's type only."""
    import logging

    class Pipeline:
        def __repr__(self) -> str:
            return "<psycopg.Pipeline [BAD] at 0x1 email=ada@example.com>"

    configure_logging("debug", "json")
    logging.getLogger("psycopg").warning("error ignored terminating %r", Pipeline())
    logging.getLogger("sqlalchemy.engine.Engine").info(
        "INSERT INTO candidates VALUES (%s)", "ada@example.com"
    )
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").error(
        "Exception during reset or similar", exc_info=ValueError("row ada@example.com")
    )
    logging.getLogger("httpx").warning("giving up on %s", "https://api.example.com")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [json.loads(x) for x in captured.err.splitlines()]
    assert [(x["event"], x["logger"], x["level"], x["message"], x["error"]) for x in lines] == [
        ("library_log", "psycopg", "warning", "error ignored terminating %r", None),
        (
            "library_log",
            "sqlalchemy.pool.impl.QueuePool",
            "error",
            "Exception during reset or similar",
            "ValueError",
        ),
        ("library_log", "httpx", "warning", "giving up on https://api.example.com", None),
    ]
    assert "ada@example.com" not in captured.err and "INSERT" not in captured.err


def test_a_skipped_overlapping_job_run_is_info_not_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """APScheduler skipping a run while the previous one still runs is the daemon's "at most
    one instance per job" rule: info (left out at the warning level), not a warning; its other
    warnings stay warnings."""
    import logging

    skipped = (
        'Execution of job "push (trigger: interval[0:00:05])" skipped: maximum number of '
        "running instances reached (1)"
    )
    configure_logging("warning", "json")
    logging.getLogger("apscheduler.scheduler").warning(skipped)
    logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [(x["level"], x["message"]) for x in lines] == [
        ("warning", "Run time of job was missed")
    ]
    configure_logging("info", "json")
    logging.getLogger("apscheduler.scheduler").warning(skipped)
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [(x["level"], x["message"]) for x in lines] == [("info", skipped)]
