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

from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from syncd.config import FINITE_RULE, closest
from syncd.secret_file import SecretFileError, read_secret_file
from syncd.sinks.base import SecretOrigin, Sink, SinkError
from syncd.sinks.registry import sink_class


class SinkConfig(BaseModel):
    """The keys every ``[sinks.NAME]`` table may hold; the rest go to the sink's own model."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    type: str
    enabled: bool = True
    secret_file: Path | None = None
    mapping: Path | None = None
    # on-create: ONBOARDING_SUCCESSFUL once the target confirms the person exists;
    # on-activation: only when the target's status reaches active (docs/push.md).
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


# Where a key of [sinks.NAME] was given (``syncd.config.Settings.sink_origin``): (kind, label),
# kind "environment" or "file"; None when unknown (built from a plain dict).
SinkOrigin = Callable[[str, str], "tuple[str, str] | None"]


def _describe(
    name: str,
    exc: ValidationError,
    choices: Iterable[str] = (),
    origin: SinkOrigin | None = None,
) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        where = f"sinks.{name}.{loc}" if loc else f"sinks.{name}"
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown setting; {_unknown_hint(name, loc, choices, origin)}")
        elif err["type"] == "missing":
            lines.append(f"{where}: required; add it to [sinks.{name}]")
        elif err["type"] == "finite_number":
            lines.append(f"{where}: {FINITE_RULE} (got {err.get('input')!r})")
        else:
            hidden = any(w in loc for w in ("secret", "token", "password", "key", "headers"))
            got = "" if hidden else f" (got {err.get('input')!r})"
            lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}{got}")
    return "; ".join(lines)


def _unknown_hint(name: str, key: str, choices: Iterable[str], origin: SinkOrigin | None) -> str:
    """ "did you mean …?" with the closest valid key (as the variable, when the environment gave
    the misspelt one), else "remove it or check its spelling"."""
    near = closest(key, sorted(choices))
    if near is None:
        return "remove it or check its spelling"
    given = origin(name, key) if origin is not None else None
    shown = near
    if given is not None and given[0] == "environment":
        shown = given[1][: -len(key)] + near.upper()
    if near == f"{key}_file":
        # secret = "whsec_…" where the setting names a file holding it.
        return f"did you mean {shown} (the path of a file holding the {key.replace('_', ' ')})?"
    return f"did you mean {shown}?"


def secret_keys(cls: type[Sink]) -> tuple[tuple[str, ...], str]:
    """The keys that give a sink's one secret, and its name in messages: ``KEY``, ``KEY_file``
    and the common ``secret_file`` when the sink's settings have a ``KEY``/``KEY_file`` pair
    (``api_key``: bamboohr; ``client_secret``: personio), else ``secret_file`` alone (webhook,
    files)."""
    fields = cls.settings_model.model_fields
    for f in fields:
        base = f.removesuffix("_file")
        if f != base and base in fields:
            return (base, f, "secret_file"), base.replace("_", " ")
    return ("secret_file",), "secret"


def one_secret(
    name: str, cls: type[Sink], table: dict[str, Any], origin: SinkOrigin | None
) -> dict[str, Any]:
    """``table`` with the sink's secret given once. The environment wins over the TOML file,
    whichever spelling each uses (docs/push.md, as for the SmartRecruiters credential): a file's
    ``api_key_file`` is dropped when ``SYNCD_SINKS__NAME__API_KEY`` is set. Two spellings from
    the same place raise SinkError naming both (never the value)."""
    keys, what = secret_keys(cls)
    given = [k for k in keys if table.get(k) is not None]
    if len(given) < 2:
        return table
    where = {k: origin(name, k) if origin is not None else None for k in given}
    from_env = [k for k in given if (where[k] or ("", ""))[0] == "environment"]
    if from_env and len(from_env) < len(given):
        table = {k: v for k, v in table.items() if k not in given or k in from_env}
        given = from_env
    if len(given) < 2:
        return table
    if from_env:
        names = " and ".join(str((where[k] or ("", k))[1]) for k in given)
        return _twice(name, f"{names} both give the {what}; unset one of them")
    place = next((w[1] for w in where.values() if w is not None), None)
    inside = f" in {place}" if place else ""
    return _twice(name, f"{' and '.join(given)}{inside} both give the {what}; keep one of them")


def _twice(name: str, message: str) -> dict[str, Any]:
    raise SinkError(f"sinks.{name}: {message}")


def secret_origin(
    name: str, cls: type[Sink], table: dict[str, Any], origin: SinkOrigin | None
) -> SecretOrigin | None:
    """Where the one secret left in ``table`` (after ``one_secret``) was given: the variable
    when the environment gave it, else the TOML file's key; None when no secret is given."""
    keys, _ = secret_keys(cls)
    used = next((k for k in keys if table.get(k) is not None), None)
    if used is None:
        return None
    file = used.endswith("_file")
    where = origin(name, used) if origin is not None else None
    if where is None:
        return SecretOrigin(f"sinks.{name}.{used}", file)
    kind, label = where
    return SecretOrigin(label if kind == "environment" else f"{label} {used}", file)


def read_secret(name: str, path: Path, *, header: bool) -> SecretStr:
    """The common ``secret_file`` (syncd.secret_file: BOM and surrounding blanks dropped; with
    ``header``, a control or non-ASCII character refused). SinkError naming the setting."""
    try:
        return SecretStr(read_secret_file(path, f"sinks.{name}.secret_file", header=header))
    except SecretFileError as exc:
        raise SinkError(str(exc)) from None


def build_sink(
    name: str, table: dict[str, Any], origin: SinkOrigin | None = None
) -> tuple[SinkConfig, Sink]:
    """Validate ``[sinks.NAME]`` and build the sink (no I/O beyond reading the secret file).
    ``origin`` tells where each key was given (``Settings.sink_origin``): the environment wins
    over the TOML file for the sink's secret, and an unknown key's hint names the variable.
    Raises SinkError with one line per problem, naming ``sinks.NAME.KEY``."""
    if not isinstance(table, dict):
        raise SinkError(f"sinks.{name}: must be a table ([sinks.{name}])")
    common = {k: v for k, v in table.items() if k in COMMON}
    try:
        cfg = SinkConfig(**common)
    except ValidationError as exc:
        raise SinkError(_describe(name, exc, COMMON, origin)) from None
    try:
        cls = sink_class(cfg.type)
    except SinkError as exc:
        raise SinkError(f"sinks.{name}.type: {exc}") from None
    table = one_secret(name, cls, table, origin)
    if "secret_file" not in table:
        cfg = cfg.model_copy(update={"secret_file": None})
    own = {k: v for k, v in table.items() if k not in COMMON}
    try:
        settings = cls.settings_model(**own)
    except ValidationError as exc:
        choices = {*COMMON, *cls.settings_model.model_fields}
        raise SinkError(_describe(name, exc, choices, origin)) from None
    secret = (
        read_secret(name, cfg.secret_file, header=cls.ascii_secret) if cfg.secret_file else None
    )
    try:
        sink = cls(name, settings, secret)
    except SinkError as exc:
        raise SinkError(f"sinks.{name}: {exc}") from None
    sink.secret_origin = secret_origin(name, cls, table, origin)
    return cfg, sink
