"""``[sinks.NAME]`` tables (in the TOML file named by ``SYNCD_CONFIG``): the keys every sink
has, the sink's own settings beside them, and building the sink.

```toml
[sinks.hr]
type = "webhook"                       # an entry point of the group syncd.sinks
url = "https://hr.example/hooks/hires" # the sink's own settings …
secret_file = "/etc/syncd/hr-webhook-secret"
mapping = "config/mappings/hr.toml"    # optional: target fields from the new-hire record
status_policy = "on-activation"        # or on-create (default)
start = "now"                          # now (default) | beginning | 2026-01-01
```
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from syncd.sinks.base import Sink, SinkError
from syncd.sinks.registry import sink_class


class SinkConfig(BaseModel):
    """The keys every ``[sinks.NAME]`` table may hold; the rest go to the sink's own model."""

    model_config = ConfigDict(extra="forbid")

    type: str
    enabled: bool = True
    secret_file: Path | None = None
    mapping: Path | None = None
    # on-create: ONBOARDING_SUCCESSFUL once the target confirms the person exists;
    # on-activation: only when the target's status reaches active (HRIS.md).
    status_policy: Literal["on-create", "on-activation"] = "on-create"
    # Which hires a newly added sink receives: now (from the outbox head on), beginning (every
    # hire in the mirror), or an ISO date (hires made on or after it).
    start: str = "now"
    # The retry schedule (docs/push.md, "Retries"): attempt n failed -> the next one after
    # min(retry_max_seconds, retry_initial_seconds * 2^(n-1)) (+ up to 20 % jitter), taken by a
    # later push pass; with the defaults the 12th attempt, the last before a dead letter, comes
    # no sooner than 1 h 45 min after the first, so an outage of that length dead-letters
    # nothing.
    max_attempts: int = Field(default=12, ge=1)
    retry_initial_seconds: float = Field(default=30.0, ge=0)
    retry_max_seconds: float = Field(default=900.0, ge=0)
    concurrency: int = Field(default=4, ge=1, le=256)
    batch_size: int = Field(default=200, ge=1, le=10_000)

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        if v in ("now", "beginning"):
            return v
        try:
            date.fromisoformat(v[:10])
        except ValueError:
            raise ValueError("must be now, beginning or an ISO date such as 2026-01-01") from None
        return v

    def start_date(self) -> datetime | None:
        """The ``start`` date as a naive UTC datetime (None for now/beginning)."""
        if self.start in ("now", "beginning"):
            return None
        return datetime.fromisoformat(self.start[:10])


COMMON = frozenset(SinkConfig.model_fields)


def _describe(name: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        where = f"sinks.{name}.{loc}" if loc else f"sinks.{name}"
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown setting; remove it or check its spelling")
        elif err["type"] == "missing":
            lines.append(f"{where}: required; add it to [sinks.{name}]")
        else:
            hidden = any(w in loc for w in ("secret", "token", "password", "key", "headers"))
            got = "" if hidden else f" (got {err.get('input')!r})"
            lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}{got}")
    return "; ".join(lines)


def read_secret(name: str, path: Path) -> SecretStr:
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise SinkError(
            f"sinks.{name}.secret_file: cannot read {str(path)!r} ({exc.strerror}); point it at "
            "a readable file holding the secret"
        ) from None
    if not value:
        raise SinkError(f"sinks.{name}.secret_file: {str(path)!r} is empty; put the secret in it")
    return SecretStr(value)


def build_sink(name: str, table: dict[str, Any]) -> tuple[SinkConfig, Sink]:
    """Validate ``[sinks.NAME]`` and build the sink (no I/O beyond reading the secret file).
    Raises SinkError with one line per problem, naming ``sinks.NAME.KEY``."""
    if not isinstance(table, dict):
        raise SinkError(f"sinks.{name}: must be a table ([sinks.{name}])")
    common = {k: v for k, v in table.items() if k in COMMON}
    own = {k: v for k, v in table.items() if k not in COMMON}
    try:
        cfg = SinkConfig(**common)
    except ValidationError as exc:
        raise SinkError(_describe(name, exc)) from None
    cls = sink_class(cfg.type)
    try:
        settings = cls.settings_model(**own)
    except ValidationError as exc:
        raise SinkError(_describe(name, exc)) from None
    secret = read_secret(name, cfg.secret_file) if cfg.secret_file else None
    try:
        sink = cls(name, settings, secret)
    except SinkError as exc:
        raise SinkError(f"sinks.{name}: {exc}") from None
    return cfg, sink
