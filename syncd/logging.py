"""structlog setup: log lines go to stderr (stdout carries a command's output alone), JSON lines
when stderr is not a terminal, readable console output when it is. Times are ISO 8601 UTC with
``Z``. Secrets never reach a log line: SecretStr values render masked, and keys that look like
credentials are redacted whatever their type."""

from __future__ import annotations

import logging
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
            structlog.get_logger(record.name).log(
                record.levelno,
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
    configured: a stream replaced since (a test's capture, a redirect) may be closed by then."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


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
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    route_stdlib_logging(level)


def get_logger(**bind: Any) -> Any:
    return structlog.get_logger().bind(**bind)
