"""``type = "files"``: hires dropped as files, one CSV and/or one JSONL file per batch with a
manifest (``count``, each file's SHA-256), to a local folder or over SFTP (asyncssh).

Every file is written under a temporary name (``.tmp-…``) and renamed into place, so a reader
never sees half a file; the manifest is written last, so a batch is complete once its manifest
exists. Each row carries the stable ``external_key``: the sink looks keys up in the manifests
already written and leaves out people it has delivered before (a batch resent after a crash).

Acknowledgements (optional): JSON-lines files in ``ack_directory``, one object per line
``{"external_key": "sr-…", "status": "active"}``, read back as status through ``status_map``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import posixpath
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, field_validator

from syncd.sinks.base import (
    Capability,
    Delivery,
    Outcome,
    Person,
    Sink,
    SinkSettings,
    TargetUnavailable,
    check_status_map,
)

MANIFEST = ".manifest.json"
Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")


class FilesSettings(SinkSettings):
    directory: str
    formats: list[Format] = Field(default_factory=lambda: list(FORMATS))
    prefix: str = "hires"
    # SFTP: set sftp_host to write over SFTP instead of to a local folder. The secret_file holds
    # the password; known_hosts is the OpenSSH known_hosts file that vouches for the server.
    sftp_host: str | None = None
    sftp_port: int = Field(default=22, ge=1, le=65535)
    sftp_user: str | None = None
    known_hosts: str | None = None
    client_key: str | None = None
    ack_directory: str | None = None
    status_map: dict[str, str] = Field(default_factory=dict)

    @field_validator("status_map")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        return check_status_map(v)


class Storage:
    """Local folder; the SFTP storage below speaks the same four calls."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    async def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    async def write_atomic(self, name: str, data: bytes) -> None:
        tmp = self.root / f".tmp-{name}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / name)

    async def names(self, directory: str | None = None) -> list[str]:
        root = Path(directory) if directory else self.root
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if not p.name.startswith(".tmp-"))

    async def read(self, name: str, directory: str | None = None) -> bytes:
        return ((Path(directory) if directory else self.root) / name).read_bytes()


class SftpStorage(Storage):
    def __init__(self, settings: FilesSettings, password: str | None) -> None:
        self.settings = settings
        self.password = password
        self.dir = settings.directory
        self._conn: Any = None
        self._sftp: Any = None

    async def open(self) -> None:
        import asyncssh

        s = self.settings
        known: Any = () if s.known_hosts is None else s.known_hosts
        if s.known_hosts == "none":
            known = None  # host key not checked: for a test server only (docs/push.md)
        try:
            self._conn = await asyncssh.connect(
                s.sftp_host,
                port=s.sftp_port,
                username=s.sftp_user,
                password=self.password,
                client_keys=[s.client_key] if s.client_key else None,
                known_hosts=known,
            )
            self._sftp = await self._conn.start_sftp_client()
            if not await self._sftp.exists(self.dir):
                await self._sftp.makedirs(self.dir)
        except (OSError, asyncssh.Error) as exc:
            raise TargetUnavailable(f"sftp: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._sftp is not None:
            self._sftp.exit()
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
        self._conn = self._sftp = None

    async def write_atomic(self, name: str, data: bytes) -> None:
        tmp = posixpath.join(self.dir, f".tmp-{name}")
        final = posixpath.join(self.dir, name)
        async with self._sftp.open(tmp, "wb") as f:
            await f.write(data)
        await self._sftp.posix_rename(tmp, final)

    async def names(self, directory: str | None = None) -> list[str]:
        d = directory or self.dir
        if not await self._sftp.exists(d):
            return []
        return sorted(n for n in await self._sftp.listdir(d) if not n.startswith((".tmp-", ".")))

    async def read(self, name: str, directory: str | None = None) -> bytes:
        async with self._sftp.open(posixpath.join(directory or self.dir, name), "rb") as f:
            data: bytes = await f.read()
            return data


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested record to dotted columns (``candidate.first_name``); lists as JSON text."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= flatten(v, f"{name}.")
        elif isinstance(v, list):
            out[name] = orjson.dumps(v).decode()
        else:
            out[name] = v
    return out


class FilesSink(Sink):
    type = "files"
    capabilities = frozenset(
        {Capability.CREATE, Capability.REVOKE, Capability.LOOKUP, Capability.BATCH}
    )
    settings_model = FilesSettings
    settings: FilesSettings

    def __init__(self, name: str, settings: Any, secret: Any) -> None:
        super().__init__(name, settings, secret)
        s = self.settings
        if s.sftp_host:
            pw = secret.get_secret_value() if secret is not None else None
            self.storage: Storage = SftpStorage(s, pw)
        else:
            self.storage = Storage(s.directory)
        self._opened = False
        self._keys: set[str] | None = None
        self._ack_cache: dict[str, str] | None = None

    def capabilities_now(self) -> frozenset[Capability]:
        if self.settings.ack_directory:
            return self.capabilities | {Capability.STATUS}
        return self.capabilities

    async def _open(self) -> None:
        if not self._opened:
            await self.storage.open()
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.storage.close()
            self._opened = False

    async def check(self) -> list[str]:
        try:
            await self._open()
            await self.storage.names()
        except (TargetUnavailable, OSError) as exc:
            return [f"directory: cannot be used ({exc})"]
        return []

    async def delivered_keys(self) -> set[str]:
        """Every (event, external key) of the manifests already written."""
        if self._keys is None:
            keys: set[str] = set()
            for n in await self.storage.names():
                if n.endswith(MANIFEST):
                    m = orjson.loads(await self.storage.read(n))
                    keys.update(m.get("keys", []))
            self._keys = keys
        return self._keys

    async def deliver(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        try:
            await self._open()
            done = await self.delivered_keys()
        except (TargetUnavailable, OSError) as exc:
            return [Outcome("retry", reason=str(exc), unknown=False)] * len(deliveries)
        fresh = [d for d in deliveries if f"{d.event_type}:{d.external_key}" not in done]
        if fresh:
            try:
                await self._write_batch(fresh)
            except (OSError, TargetUnavailable) as exc:
                # Files written before the manifest are not a batch: the next attempt (same
                # name, same content) replaces them.
                return [
                    Outcome("retry", reason=f"{type(exc).__name__}: {exc}", unknown=True)
                ] * len(deliveries)
            done.update(f"{d.event_type}:{d.external_key}" for d in fresh)
        return [Outcome("accepted", target_id=d.external_key) for d in deliveries]

    async def _write_batch(self, ds: Sequence[Delivery]) -> None:
        ids = sorted(d.delivery_id for d in ds)
        batch = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{self.settings.prefix}-{stamp}-{batch}"
        rows = [
            {
                "event": d.event_type,
                "delivery_id": d.delivery_id,
                "external_key": d.external_key,
                **flatten(d.data),
            }
            for d in ds
        ]
        files: dict[str, str] = {}
        for fmt in self.settings.formats:
            data = _csv(rows) if fmt == "csv" else _jsonl(ds)
            name = f"{base}.{fmt}"
            await self.storage.write_atomic(name, data)
            files[name] = hashlib.sha256(data).hexdigest()
        manifest = {
            "batch": batch,
            "count": len(ds),
            "files": files,
            "keys": [f"{d.event_type}:{d.external_key}" for d in ds],
            "written_at": stamp,
        }
        await self.storage.write_atomic(f"{base}{MANIFEST}", orjson.dumps(manifest))

    async def create_or_match(self, delivery: Delivery) -> Outcome:
        return (await self.deliver([delivery]))[0]

    async def revoke(self, delivery: Delivery) -> Outcome:
        return (await self.deliver([delivery]))[0]

    async def lookup(self, external_key: str) -> Person | None:
        await self._open()
        keys = await self.delivered_keys()
        return Person(external_key) if f"application.hired:{external_key}" in keys else None

    async def status(self, external_key: str, target_id: str | None) -> Person | None:
        acks = await self._acks()
        found = acks.get(external_key)
        if found is None:
            return None
        return Person(external_key, target_id, found, self.settings.status_map.get(found))

    async def _acks(self) -> dict[str, str]:
        """external_key -> the latest acknowledged status, read once per pass (files in name
        order, later lines win)."""
        if self._ack_cache is None:
            out: dict[str, str] = {}
            acks = self.settings.ack_directory
            if acks:
                await self._open()
                for n in await self.storage.names(acks):
                    if not n.endswith(".jsonl"):
                        continue
                    for line in (await self.storage.read(n, acks)).splitlines():
                        if not line.strip():
                            continue
                        try:
                            ack = orjson.loads(line)
                        except orjson.JSONDecodeError:
                            continue  # a line being written, or not an acknowledgement
                        if isinstance(ack, dict) and ack.get("external_key"):
                            out[str(ack["external_key"])] = str(ack.get("status"))
            self._ack_cache = out
        return self._ack_cache


def _csv(rows: list[dict[str, Any]]) -> bytes:
    head = ["event", "delivery_id", "external_key"]
    cols = head + sorted({k for r in rows for k in r} - set(head))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    return buf.getvalue().encode()


def _jsonl(ds: Sequence[Delivery]) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "type": d.event_type,
                "delivery_id": d.delivery_id,
                "external_key": d.external_key,
                "timestamp": d.timestamp.isoformat(),
                "data": d.data,
            }
        )
        + b"\n"
        for d in ds
    )
