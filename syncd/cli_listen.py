"""The listening socket of ``syncd sandbox serve`` and ``syncd hris-sandbox serve``."""

from __future__ import annotations

import socket

from syncd.cli_errors import USAGE, CommandError

# uvicorn's default --backlog.
BACKLOG = 2048


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port) and already listening, for uvicorn
    to serve on.

    Raises ``CommandError`` (exit 2, a command-line argument that cannot be used) naming the
    address and the fix when the port is taken or not allowed."""
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer under ~64 KiB waited ~40 ms (Nagle against a delayed ACK).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(
            f"--port: cannot listen on {host}:{port} ({exc.strerror}); choose another port, "
            "or 0 for any free one",
            USAGE,
        ) from None
    # Listening before the "serving" line is printed: a client that connects at once then waits in
    # the backlog until uvicorn accepts, instead of being refused (uvicorn's listen() comes later).
    sock.listen(BACKLOG)
    return sock
