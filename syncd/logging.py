"""structlog setup: log lines go to stderr (stdout carries a command's output alone), JSON lines
when stderr is not a terminal, readable console output when it is. Times are ISO 8601 UTC with
``Z``. Secrets never reach a log line: SecretStr values render masked, and keys that look like
credentials are redacted whatever their type."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import MutableMapping
from datetime import UTC, date, datetime
from typing import Any

import structlog
from pydantic import SecretStr

REDACTED = "**********"
_SECRET_KEYS = ("secret", "token", "password", "api_key", "apikey", "authorization", "smarttoken")


def _is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return any(s in k for s in _SECRET_KEYS)


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return REDACTED
    if _is_secret_key(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, MutableMapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    return value


def redact_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key == "event":
            continue
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def iso_time(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; the mirror's naive datetimes are UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def _times(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _times(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_times(v) for v in value]
    return value


def render_times(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        event_dict[key] = _times(value)
    return event_dict


# Libraries whose own log lines can quote SQL, its parameters or row values (a statement, a
# connection's state, a driver message): only the message's format string is kept, never what
# fills it (psycopg's "error ignored terminating %r", without the pipeline's repr).
_TEMPLATE_ONLY = ("psycopg", "psycopg_pool", "sqlalchemy")


# Library lines that report what syncd asks for, not a problem: APScheduler skipping a job's run
# while the previous one still runs is the daemon's "at most one instance per job" rule
# (syncd.daemon.service), so it is logged at info, not as a warning.
_EXPECTED = (("apscheduler", "maximum number of running instances reached"),)


class StdlibToStructlog(logging.Handler):
    """Other libraries' log lines (stdlib ``logging``: psycopg, SQLAlchemy, APScheduler,
    uvicorn, …) as structlog events, so stderr stays one format (JSON lines when not a
    terminal): ``{"event": "library_log", "logger": NAME, "message": …, "error": TYPE}``. A
    traceback could quote values: only its exception's type is kept. Database libraries keep
    the message's format string alone (``_TEMPLATE_ONLY``)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc = record.exc_info[1] if record.exc_info else None
            if record.name.split(".")[0] in _TEMPLATE_ONLY:
                message = str(record.msg)
            else:
                message = record.getMessage()
            level = record.levelno
            top = record.name.split(".")[0]
            if any(top == lib and text in message for lib, text in _EXPECTED):
                level = min(level, logging.INFO)
            structlog.get_logger(record.name).log(
                level,
                "library_log",
                logger=record.name,
                message=message,
                error=type(exc).__name__ if exc is not None else None,
            )
        except Exception:
            self.handleError(record)


def route_stdlib_logging(level: str = "info") -> None:
    """Every stdlib logger through ``StdlibToStructlog``: the root logger gets it (replacing a
    previous one of ours; other handlers, such as pytest's, stay) at WARNING, so a library's
    warnings and errors are JSON lines instead of Python's raw last-resort line. SQLAlchemy's
    loggers are held at WARNING whatever ``level`` is: at INFO they would log every statement
    with its parameters."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, StdlibToStructlog):
            root.removeHandler(h)
    root.addHandler(StdlibToStructlog())
    wanted = logging.getLevelNamesMapping()[level.upper()]
    root.setLevel(max(wanted, logging.WARNING))
    for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at each line, not the stream it was when logging was
    configured: a stream replaced since (a test's capture, a redirect) may be closed by then.

    A stream that cannot take a line (its reader went away: ``syncd run 2>&1 | head -1``, a log
    collector gone; or closed) never stops the process: the line is dropped and counted
    (``dropped_lines``; ``syncd_log_lines_dropped_total`` in the daemon's /metrics), and so is
    every later line for that stream, which is not tried again. Raising there instead wedged
    the daemon (its SIGTERM handler raised before it could stop; every pass raised at its first
    line and stayed ``running``) and turned a one-shot command's pass into ``failed:
    BrokenPipeError``. File descriptor 2 then points at /dev/null, so that nothing else
    (the interpreter's last flush, a library writing to it) meets the broken pipe again."""

    def __init__(self) -> None:
        self.dead: Any = None  # the stream that could not take a line
        self.dropped = 0

    def _lost(self, out: Any) -> None:
        self.dropped += 1
        if self.dead is out:
            return
        self.dead = out
        with contextlib.suppress(Exception):
            if out.fileno() == 2:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)

    def write(self, text: str) -> int:
        out = sys.stderr
        if out is None or out is self.dead:
            self.dropped += 1
            return 0
        try:
            return out.write(text)
        except BlockingIOError:  # a non-blocking stream full for now: this line only
            self.dropped += 1
            return 0
        except (OSError, ValueError):  # EPIPE, EIO, ENOSPC; ValueError: closed
            self._lost(out)
            return 0

    def flush(self) -> None:
        out = sys.stderr
        if out is None or out is self.dead:
            return
        try:
            out.flush()
        except BlockingIOError:
            self.dropped += 1
        except (OSError, ValueError):  # the line written into its buffer is lost with it
            self._lost(out)


_STDERR = _CurrentStderr()


def dropped_lines() -> int:
    """Log lines this process could not write (its stderr's reader gone, or stderr closed)."""
    return _STDERR.dropped


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    out = sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            render_times,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # One write and one flush per line (PrintLogger writes the newline apart): a line is
        # dropped, and counted, whole.
        logger_factory=structlog.WriteLoggerFactory(file=_STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    route_stdlib_logging(level)


def get_logger(**bind: Any) -> Any:
    return structlog.get_logger().bind(**bind)
