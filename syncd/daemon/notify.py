"""systemd's notify protocol (sd_notify(3)): one datagram per message to ``$NOTIFY_SOCKET``.

``READY=1`` once migrations are checked and the scheduler runs, ``WATCHDOG=1`` from the event
loop every half of ``$WATCHDOG_USEC``, ``STOPPING=1`` on the way out. Without ``NOTIFY_SOCKET``
(not started by systemd with ``Type=notify``) every call does nothing. A socket name starting with
``@`` is in the abstract namespace (sd_notify(3), "NOTES").
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() and mine else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        """Send one message (e.g. ``READY=1``); False when there is no socket or it failed."""
        if self.address is None:
            return False
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(addr)
                sock.sendall(message.encode())
        except OSError:
            return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1\nSTATUS=scheduler running")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")
