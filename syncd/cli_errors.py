"""The one error boundary every ``syncd`` command goes through.

Whatever a command raises ends here: what syncd knows (a bad setting, a refused credential, a
mirror held by another syncd, a database it cannot reach or write) becomes one line on stderr with
the fix and an exit code from ``EXIT_CODES``; what it does not know is logged (the exception's type
and where it was raised, never a statement, its parameters or row values) and ends with exit 1.
The README's exit-code table is this table.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import click

T = TypeVar("T")

# After SIGTERM/SIGINT a run has this long to commit or roll back its write group and record
# itself `interrupted`; then the process exits anyway (the database rolls back what is open).
STOP_GRACE_SECONDS = 9.0

OK = 0
FAILED = 1  # a pass or a request failed; a rerun resumes from the last checkpoint
USAGE = 2  # bad settings, config file, arguments, database URL, or an unmigrated mirror
REFUSED = 3  # SmartRecruiters refused the credential, or it lacks a scope
INCOMPLETE = 4  # a walk could not prove it saw every record (nothing was deleted)
BUSY = 5  # another syncd is writing to this mirror
DATABASE = 6  # the mirror database cannot be reached, cannot be written, or its file was lost
INTERRUPTED_INT = 128 + signal.SIGINT  # 130: stopped by SIGINT (Ctrl-C); the run is `interrupted`
INTERRUPTED_TERM = 128 + signal.SIGTERM  # 143: stopped by SIGTERM; the run is `interrupted`
# 141: stdout's reader went away (`| head`): what a shell reports for `ls` or `git log` there
# (they die of SIGPIPE); syncd ignores SIGPIPE, as Python does, and exits with the same code.
PIPE_CLOSED = 128 + signal.SIGPIPE
# ``click.Context.meta`` key a command sets when it writes nothing on stdout (``syncd run``):
# its exit is never 141 for a reader of stdout gone.
NO_STDOUT = "syncd.no_stdout"

# The largest integer the mirror's columns and SQL LIMIT take on both databases (SQLite's
# INTEGER, PostgreSQL's BIGINT): sequences, delivery ids and --limit values are bounded by it,
# so that a larger one is a usage error (exit 2) and never reaches the driver (OverflowError).
BIGINT_MAX = 2**63 - 1


class FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` (which passes every comparison with the
    bounds, so FloatRange lets it through): a usage error, exit 2."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        out = super().convert(value, param, ctx)
        if out != out:  # nan
            self.fail(
                f"{value!r} is not a number in the range {self._describe_range()}.", param, ctx
            )
        return out


class WholeRange(click.IntRange):
    """``click.IntRange`` whose refusal of a value that is not a whole number says what is
    expected (``'abc' is not a whole number; expected one from 1 to 100000``), where click says
    ``'abc' is not a valid integer range``. Out-of-range values keep click's message."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return super().convert(value, param, ctx)
        try:
            int(str(value).strip())
        except ValueError:
            low, high = self.min, self.max
            if low is not None and high is not None:
                want = f"from {low} to {high}"
            elif low is not None:
                want = f"of at least {low}"
            else:
                want = f"of at most {high}"
            self.fail(f"{value!r} is not a whole number; expected one {want}", param, ctx)
        return super().convert(value, param, ctx)


EXIT_CODES: dict[int, str] = {
    OK: "done",
    FAILED: "a pass or an API request failed, or an unexpected error (logged); rerun to resume",
    USAGE: (
        "bad settings, config file, command-line arguments or database URL; mirror not migrated; "
        "a checkpoint this syncd cannot read"
    ),
    REFUSED: "SmartRecruiters refused the credential, or it lacks a scope syncd needs",
    INCOMPLETE: (
        "a walk could not prove it saw every record (nothing was deleted, rerun), or ids given "
        "to refresh are absent in SmartRecruiters"
    ),
    BUSY: (
        "another syncd is writing to this mirror, or migrating it past SYNCD_MIGRATE_WAIT_SECONDS "
        "(its host, pid and start are named)"
    ),
    DATABASE: (
        "the mirror database cannot be reached, or its file or folder is not writable, or its "
        "file was deleted or replaced while syncd wrote to it"
    ),
    INTERRUPTED_INT: "stopped by SIGINT; the current write committed, the run is `interrupted`",
    INTERRUPTED_TERM: "stopped by SIGTERM; the current write committed, the run is `interrupted`",
    PIPE_CLOSED: "the reader of stdout went away (e.g. piped into `head`); ends without a message",
}


def exit_codes_help() -> str:
    """The exit-code table for ``syncd --help`` (``\\b``: click keeps the lines as they are)."""
    return (
        "\b\nExit codes:\n"
        + "\n".join(f"{c:>5}  {w}" for c, w in EXIT_CODES.items())
        + "\n\nbackfill and sync --once over several [tenants] (no SYNCD_TENANT): the highest "
        "of the tenants' codes."
    )


class CommandError(Exception):
    """A failure syncd understands: ``message`` is the one line shown, ``code`` the exit code."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Interrupted(BaseException):
    """SIGTERM or SIGINT stopped the run after its current write group committed or rolled
    back. A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def code(self) -> int:
        return 128 + self.signum


def run_until_signal(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on a new event loop; SIGTERM or SIGINT cancels it, and once it has unwound
    (the engine commits or rolls back its write group and records the run ``interrupted``)
    raises ``Interrupted``. A second signal, or ``STOP_GRACE_SECONDS`` without an end, exits at
    once with the same code."""
    import asyncio  # here, not at import: commands that run no coroutine start sooner

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []

        def on_signal(signum: int) -> None:
            from syncd.logging import get_logger

            if received:
                os._exit(128 + received[0])
            received.append(signum)
            get_logger().warning(
                "stopping", signal=signal.Signals(signum).name, grace_seconds=STOP_GRACE_SECONDS
            )
            timer = threading.Timer(STOP_GRACE_SECONDS, os._exit, args=(128 + signum,))
            timer.daemon = True
            timer.start()
            task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await work
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            raise
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


def _database_where() -> str:
    """The configured database URL without its password, for messages ('' if unknown)."""
    from syncd.mirror.db import display_url

    raw = os.environ.get("SYNCD_DATABASE_URL")
    try:
        from syncd.config import load_settings

        raw = load_settings().database_url
    except Exception:  # the settings' own error is reported elsewhere
        pass
    if not raw:
        return ""
    return display_url(raw)


def classify(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, one line) for a failure syncd understands; None for anything else."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from syncd.ats import (
        AtsError,
        AuthenticationError,
        PermissionDeniedError,
    )
    from syncd.ats import (
        ConfigurationError as AtsConfigurationError,
    )
    from syncd.config import ConfigError
    from syncd.mirror.db import SchemaError, describe_db_error, driver_error, sqlite_error_kind
    from syncd.mirror.lock import MirrorBusyError, MirrorFileLostError, MirrorNotWritableError
    from syncd.sync.checkpoints import PageTokensRefused, UnreadableCheckpoint
    from syncd.sync.passes import PassesFailed, safe_error

    if isinstance(exc, CommandError):
        return exc.code, exc.message
    if isinstance(exc, Interrupted):
        name = signal.Signals(exc.signum).name
        return exc.code, (
            f"stopped by {name}; a pass in progress is recorded `interrupted` and the next run "
            "resumes it"
        )
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_INT, "stopped by SIGINT"
    if isinstance(exc, ConfigError | SchemaError | AtsConfigurationError | UnreadableCheckpoint):
        return USAGE, str(exc)
    if isinstance(exc, PageTokensRefused):
        return FAILED, str(exc)
    if isinstance(exc, PassesFailed):  # the worst of the failed passes' codes, each one's line
        known = [(name, classify(e) or (FAILED, safe_error(e))) for name, e in exc.failures]
        worst = max(code for _, (code, _) in known)
        return worst, "; ".join(
            f"{name}: failed: {line.removeprefix(f'{name}: ')}" for name, (_, line) in known
        )
    if isinstance(exc, MirrorBusyError):
        return BUSY, str(exc)
    if isinstance(exc, MirrorNotWritableError | MirrorFileLostError):
        return DATABASE, str(exc)
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return REFUSED, f"SmartRecruiters refused the credentials or their role: {exc}"
    if isinstance(exc, AtsError):
        return FAILED, f"the SmartRecruiters API call failed: {exc}; rerun to resume"
    if isinstance(exc, DBAPIError) or driver_error(exc) is not None:
        where = _database_where()
        kind = sqlite_error_kind(exc)
        if kind == "readonly":
            return DATABASE, (
                f"the mirror {where} is read-only for this user: make the file and its folder "
                "writable (SQLite writes -wal and -shm files beside it), or use a read-only "
                "command (status, quarantine, report)"
            )
        sqlstate = getattr(driver_error(exc), "sqlstate", None)
        if kind == "full" or sqlstate == "53100":  # SQLite's SQLITE_FULL, PostgreSQL's disk_full
            return DATABASE, (
                f"the disk holding the mirror {where} is full ({describe_db_error(exc)}): free "
                "space and rerun; the pass resumes from its last checkpoint"
            )
        if sqlstate == "42501":  # insufficient_privilege
            return DATABASE, (
                f"the database user of {where} may not do this ({describe_db_error(exc)}): "
                "grant it the mirror's tables, or use a read-only command (status, quarantine, "
                "report)"
            )
        if kind == "cannot_open":
            return DATABASE, (
                f"cannot open the mirror database {where} ({describe_db_error(exc)}): does its "
                "folder exist and can this user read it? Is SYNCD_DATABASE_URL right?"
            )
        if isinstance(exc, DBAPIError) and (exc.connection_invalidated or exc.statement is None):
            return DATABASE, (
                f"cannot connect to the mirror database {where} ({describe_db_error(exc)}): is "
                "the database running and SYNCD_DATABASE_URL right?"
            )
        return FAILED, (
            f"the mirror database refused a statement ({describe_db_error(exc)}); "
            "rerun to resume from the last checkpoint"
        )
    if isinstance(exc, SQLAlchemyError):
        return FAILED, f"mirror database error ({describe_db_error(exc)})"
    if isinstance(exc, PermissionError):
        return DATABASE, f"permission denied: {exc.filename or ''} ({exc.strerror})"
    return None


def log_unexpected(exc: BaseException) -> None:
    """Log an error syncd does not understand: its type, the safe first line and the frames
    (file, line, function) — never the statement, parameters or payload it may carry."""
    from sqlalchemy.exc import SQLAlchemyError

    from syncd.logging import get_logger
    from syncd.mirror.db import describe_db_error, driver_error

    # Another exception's message may quote a value it choked on: only its type is logged.
    database = isinstance(exc, SQLAlchemyError) or driver_error(exc) is not None
    what = describe_db_error(exc) if database else type(exc).__name__
    frames = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
    get_logger().error(
        "unexpected_error",
        error=what,
        frames=frames[-8:],
    )


def fail(exc: BaseException) -> NoReturn:
    """Print one line for ``exc`` on stderr and exit with its code."""
    if isinstance(exc, BrokenPipeError):
        # The reader of stdout went away (`| head`): the work is done, nothing more to say.
        # Python's recipe: point stdout at /dev/null so the exit's flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(PIPE_CLOSED)
    code, line = describe(exc)
    click.echo(f"syncd: {line}", err=True)
    sys.exit(code)


def describe(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for any failure: ``classify``'s for one syncd understands; else
    ``FAILED`` and a line naming only the error's type, its frames logged (``log_unexpected``)."""
    known = classify(exc)
    if known is not None:
        return known
    log_unexpected(exc)
    return (
        FAILED,
        f"unexpected error ({type(exc).__name__}); the log line above says where. Please report it",
    )


def finish_stdout() -> None:
    """Flush stdout and raise BrokenPipeError when its reader went away (exit 141 through
    ``fail``). The flush meets a reader gone away inside the boundary rather than at the
    interpreter's exit (exit 120). It is not enough: a large write the reader stopped reading
    half-way returns the part written and the rest is dropped without an error (CPython, one
    ``write`` into a pipe), so a pipe whose reader has closed it (``POLLERR`` on the write end)
    is checked too: ``syncd api get /candidates --all | head -c 10`` exits 141 as ``syncd
    changes | head`` does."""
    import errno
    import select
    import stat

    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        events = poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no real stdout (tests' CliRunner, closed)
        return
    if any(ev & select.POLLERR for _, ev in events):
        raise BrokenPipeError(errno.EPIPE, "the reader of stdout went away")


class SyncdGroup(click.Group):
    """A click group whose commands (and sub-groups) all end through ``fail``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                out = super().invoke(ctx)
            except SystemExit as exc:
                # A command that ends itself "done" wrote all too. ``syncd run`` writes nothing
                # on stdout (its log is on stderr): a reader of it gone is no failure of its.
                if exc.code in (0, None) and not ctx.meta.get(NO_STDOUT):
                    finish_stdout()
                raise
            if not ctx.meta.get(NO_STDOUT):
                finish_stdout()
            return out
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            fail(exc)
        except (Interrupted, KeyboardInterrupt) as exc:
            fail(exc)
