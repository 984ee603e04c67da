"""Socket activation (sd_listen_fds(3)): ``syncd run`` serves on a listening socket it inherits
instead of binding ``SYNCD_HTTP__HOST:SYNCD_HTTP__PORT`` itself.

The daemon's side is ``inherited_socket``: when ``LISTEN_PID`` is this process and
``LISTEN_FDS`` is 1, file descriptor 3 is the socket (systemd's ``.socket`` units pass it so).
The launcher's side is ``activated``: the command line and ``pass_fds`` that start a process
with a socket bound by the caller, for tests, benchmarks and ``syncd demo`` that must know the
daemon's port before it starts (its webhook callback URL names it) without choosing a free port
and releasing it, which another process could take before the daemon binds it.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import MutableMapping, Sequence

# sd_listen_fds(3): passed descriptors start at 3 (SD_LISTEN_FDS_START).
LISTEN_FDS_START = 3


def inherited_socket(environ: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """The listening TCP socket passed by socket activation, or None when none was passed to this
    process (no ``LISTEN_FDS``, or ``LISTEN_PID`` names another process, which then inherited the
    variables by mistake). ``LISTEN_PID``, ``LISTEN_FDS`` and ``LISTEN_FDNAMES`` are removed from
    ``environ`` (``os.environ`` unless given) either way, as sd_listen_fds(3) does with
    ``unset_environment``, so that nothing the daemon starts takes them for its own.

    Raises ``syncd.config.ConfigError`` (exit 2) naming ``LISTEN_FDS`` when more than one socket
    was passed, or when descriptor 3 is not a listening TCP socket (IPv4 or IPv6)."""
    env = os.environ if environ is None else environ
    pid, count = env.get("LISTEN_PID", ""), env.get("LISTEN_FDS", "")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(name, None)
    if pid != str(os.getpid()) or not count:
        return None
    from syncd.config import ConfigError

    if count != "1":
        raise ConfigError(
            f"LISTEN_FDS: syncd run serves on one socket, {count} were passed; give the socket "
            "unit one ListenStream="
        )
    try:
        sock = socket.socket(fileno=LISTEN_FDS_START)
    except OSError as exc:
        raise ConfigError(
            f"LISTEN_FDS: descriptor {LISTEN_FDS_START} is not a socket ({exc.strerror}); pass "
            "a listening TCP socket (ListenStream=) or unset LISTEN_FDS"
        ) from None
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if (
        sock.family not in (socket.AF_INET, socket.AF_INET6)
        or sock.type != socket.SOCK_STREAM
        or not listening
    ):
        sock.detach()  # not ours to close
        raise ConfigError(
            f"LISTEN_FDS: descriptor {LISTEN_FDS_START} is not a listening TCP socket; pass one "
            "(ListenStream=HOST:PORT) or unset LISTEN_FDS"
        )
    sock.setblocking(False)
    return sock


# Run by the launched process before it becomes ``cmd``: ``LISTEN_PID`` can only be known there,
# and ``exec`` keeps the process id. Python rather than a POSIX shell: dash's redirections take
# one-digit descriptors only, and the socket's may be above 9.
_EXEC_ACTIVATED = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "if fd != 3:\n"
    "    os.dup2(fd, 3)\n"
    "    os.close(fd)\n"
    "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1')\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def activated(cmd: Sequence[str], sock: socket.socket) -> tuple[list[str], tuple[int, ...]]:
    """The command line and ``pass_fds`` for ``subprocess.Popen`` that run ``cmd`` with ``sock``
    (bound and listening, kept open by the caller until the process started) as its activated
    socket: descriptor 3, ``LISTEN_FDS=1`` and ``LISTEN_PID`` set to the process's own id (a short
    Python prelude sets them, then ``exec``s ``cmd`` in the same process)."""
    fd = sock.fileno()
    prelude = [sys.executable, "-I", "-S", "-c", _EXEC_ACTIVATED, str(fd)]
    return [*prelude, *cmd], (fd,)
