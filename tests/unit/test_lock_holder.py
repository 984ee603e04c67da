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


def test_a_held_lock_sees_its_file_or_lock_file_deleted_or_replaced(tmp_path: Path) -> None:
    """``problem``: the file at the configured path compared by (st_dev, st_ino) with the one
    locked; a symlink pointed elsewhere is a replaced file; the lock file deleted is named."""
    real = tmp_path / "real.db"
    real.write_bytes(b"")
    alias = tmp_path / "alias.db"
    alias.symlink_to(real)
    lock = _SqliteLock(alias, "writer")
    assert lock.path == tmp_path / "real.db.lock"  # beside the file, not the symlink
    lock.acquire()
    try:
        assert lock.problem() is None
        other = tmp_path / "other.db"
        other.write_bytes(b"")
        alias.unlink()
        alias.symlink_to(other)
        assert (lock.problem() or "").startswith(f"the mirror database file {alias} was replaced")
        alias.unlink()
        assert (lock.problem() or "").startswith(f"the mirror database file {alias} was deleted")
        alias.symlink_to(real)
        assert lock.problem() is None
        lock.path.unlink()
        assert (lock.problem() or "").startswith(f"the lock file {lock.path} was deleted")
    finally:
        lock.release()
