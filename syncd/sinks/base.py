"""The sink interface: create or match a person, look a person up by the deterministic external
key, read the onboarding status, revoke; declared capabilities.

Exactly once in effect (docs/push.md, "Delivery"): no target offers an idempotency header, so the
dispatcher looks a person up by ``external_key`` before creating (``Capability.LOOKUP``), and
resolves a create whose outcome is unknown by a lookup, never by a blind retry. A sink without
lookup (a plain webhook) relies on the receiver deduplicating by ``delivery_id`` (the Standard
Webhooks ``webhook-id``), which is the same on every retry.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

ONBOARDING_SUCCESSFUL = "ONBOARDING_SUCCESSFUL"
ONBOARDING_FAILED = "ONBOARDING_FAILED"


class Capability(StrEnum):
    CREATE = "create"  # create_or_match
    LOOKUP = "lookup"  # lookup by external key (before every create; unknown outcomes)
    STATUS = "status"  # read onboarding status back
    REVOKE = "revoke"  # application.hire_revoked reaches the target
    BATCH = "batch"  # deliver() takes many at once (a file per batch)


class SinkError(Exception):
    """The sink cannot be built or reached: bad settings, unreadable secret. One line naming
    the setting and the fix."""


class TargetUnavailable(Exception):
    """A lookup or status read could not be answered (timeout, 5xx, 429): try again later.
    ``retry_after`` in seconds when the target said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SinkSettings(BaseModel):
    """Base of a sink's own settings (the keys of ``[sinks.NAME]`` beside the common ones).
    Unknown keys are refused with their name."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class Delivery:
    """One event for one person. ``delivery_id`` is stable across retries and runs;
    ``data`` is the new-hire record or its mapped form; ``timestamp`` the event's time."""

    delivery_id: str
    external_key: str
    event_type: str  # application.hired | application.hire_revoked
    data: dict[str, Any]
    timestamp: datetime
    target_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the target answered.

    - ``accepted``: done; ``target_id`` if the target names the person.
    - ``rejected``: permanent (400/409/422 …): ``reason`` is the target's own message.
    - ``retry``: 429, 5xx, timeouts, connection errors; ``retry_after`` seconds if the target
      said so. ``unknown`` when the request may have been processed (sent, no answer).
    - ``auth``: 401/403: retried, alerted, never turned into ONBOARDING_FAILED.
    """

    kind: Literal["accepted", "rejected", "retry", "auth"]
    target_id: str | None = None
    reason: str | None = None
    status_code: int | None = None
    retry_after: float | None = None
    unknown: bool = False


@dataclass(frozen=True)
class Person:
    """A person found at the target. ``onboarding``: ONBOARDING_SUCCESSFUL / ONBOARDING_FAILED
    once the target's status maps to one (per the sink's settings), else None."""

    external_key: str
    target_id: str | None = None
    status: str | None = None
    onboarding: str | None = None


@dataclass(frozen=True)
class SecretOrigin:
    """Where a sink's secret was given, for a message that names the fix when the target refuses
    it (never the secret): ``setting`` is the variable (``SYNCD_SINKS__HR__API_KEY``), the TOML
    key (``SYNCD_CONFIG (syncd.toml) [sinks.hr] api_key_file``) or, for a table built without
    its origin, ``sinks.hr.api_key_file``; ``file`` when that setting names a file holding it."""

    setting: str
    file: bool

    def fix(self, what: str = "it") -> str:
        """The last words of the fix: where the new secret (``what``) goes."""
        if self.file:
            return f"put {what} in the file {self.setting} names"
        return f"set {self.setting} to {what}"


class Sink(ABC):
    """A target. Subclasses set ``type``, ``capabilities``, ``settings_model`` and, when the
    target has a fixed set of fields, ``fields`` (checked against the mapping at start);
    ``default_mapping`` when the target needs its own field names even without a ``mapping``."""

    type: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CREATE})
    settings_model: ClassVar[builtins.type[SinkSettings]] = SinkSettings
    fields: ClassVar[frozenset[str] | None] = None
    # The mapping used when ``[sinks.NAME]`` names none (an HRIS needs its own field names).
    default_mapping: ClassVar[Path | None] = None
    # The secret must be visible ASCII: it travels in an HTTP header (BambooHR's Basic auth) or
    # is base64 (the webhook's whsec_ key). A control or non-ASCII character left in the file
    # (after the BOM and surrounding blanks are dropped) is then refused when the sink is built.
    ascii_secret: ClassVar[bool] = False
    # Set by syncd.sinks.config.build_sink: where the secret came from (None: not known).
    secret_origin: SecretOrigin | None = None

    def __init__(self, name: str, settings: SinkSettings, secret: SecretStr | None) -> None:
        self.name = name
        self.settings = settings
        self.secret = secret

    def capabilities_now(self) -> frozenset[Capability]:
        """The capabilities this configured instance has (e.g. status only with a status_url)."""
        return self.capabilities

    async def __aenter__(self) -> Sink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @abstractmethod
    async def check(self) -> list[str]:
        """Configuration, credentials and reachability, sending no event. Returns one line per
        problem ([] when ready)."""

    @abstractmethod
    async def create_or_match(self, delivery: Delivery) -> Outcome:
        """Create the person (or match an existing one) for ``application.hired``."""

    async def deliver(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """Several deliveries; sinks with ``Capability.BATCH`` write them as one unit."""
        out = []
        for d in deliveries:
            if d.event_type == "application.hire_revoked":
                out.append(await self.revoke(d))
            else:
                out.append(await self.create_or_match(d))
        return out

    async def lookup(self, external_key: str) -> Person | None:
        """The person stored under ``external_key``, or None (``Capability.LOOKUP``)."""
        raise NotImplementedError(f"sink type {self.type!r} has no lookup")

    async def status(self, external_key: str, target_id: str | None) -> Person | None:
        """The person's current state at the target (``Capability.STATUS``)."""
        raise NotImplementedError(f"sink type {self.type!r} reads no status")

    async def revoke(self, delivery: Delivery) -> Outcome:
        """Tell the target a delivered hire was undone (``Capability.REVOKE``)."""
        raise NotImplementedError(f"sink type {self.type!r} cannot revoke")


def check_status_map(status_map: dict[str, str]) -> dict[str, str]:
    """A sink's ``status_map`` (the target's own status -> the onboarding status written back to
    SmartRecruiters), unchanged; ValueError naming the first entry that maps to anything but
    ONBOARDING_SUCCESSFUL or ONBOARDING_FAILED (the values docs/push.md allows)."""
    for k, s in status_map.items():
        if s not in (ONBOARDING_SUCCESSFUL, ONBOARDING_FAILED):
            raise ValueError(f"{k!r} maps to {s!r}; use ONBOARDING_SUCCESSFUL or ONBOARDING_FAILED")
    return status_map
