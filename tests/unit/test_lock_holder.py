"""Reading the holder of a SQLite mirror's lock file while another process writes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.mirror.lock import _SqliteLock


@pytest.mark.parametrize("content", [b"", b"null", b"{", b"[1]", b"7", b'{"host": "vm"}'])
def test_a_holder_not_written_yet_reads_as_unknown(tmp_path: Path, content: bytes) -> None:
    """The holder truncates the file, then writes itself: a reader in between (another migrate
    polling, a status) sees an empty or partial file and must get "not known yet", not fail."""
    path = tmp_path / "mirror.db.lock"
    path.write_bytes(content)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _SqliteLock._read_holder(fd) is None
    finally:
        os.close(fd)


def test_a_written_holder_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "mirror.db.lock"
    path.write_text('{"host": "vm", "pid": 41, "since": "2026-11-29T19:55:54Z", "role": "migrate"}')
    fd = os.open(path, os.O_RDONLY)
    try:
        holder = _SqliteLock._read_holder(fd)
    finally:
        os.close(fd)
    assert holder is not None and (holder.host, holder.pid, holder.role) == ("vm", 41, "migrate")
