"""What the HRIS sinks (``bamboohr``, ``personio``) share: settings with a secret from a file or
the environment, a status map, and the classification of a vendor's answer into an
:class:`~syncd.sinks.base.Outcome`.

No HRIS offers an idempotency header (BambooHR's and Personio's API documentation), so each
HRIS sink's ``create_or_match`` looks the person up by the fields it stores (employee number,
work email) before creating, and a create whose answer was lost is matched by the same lookup on
the next attempt: never a second employee.

Answers (docs/push.md, "Delivery"): 401/403 ``auth`` (alerted, retried, never
ONBOARDING_FAILED); 408, 429, 5xx, timeouts and connection errors ``retry`` (``Retry-After``
honoured by the dispatcher); every other 4xx ``rejected`` with the vendor's own message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator

from syncd.secret_file import SecretFileError, clean_secret, read_secret_file
from syncd.sinks.base import (
    Outcome,
    SinkError,
    SinkSettings,
    TargetUnavailable,
    check_status_map,
)
from syncd.sinks.webhook import retry_after

MAPPINGS = Path(__file__).parent / "mappings"


class HrisSettings(SinkSettings):
    """``base_url`` (scheme and host, no path), ``status_map`` (the vendor's employee status ->
    ONBOARDING_SUCCESSFUL / ONBOARDING_FAILED, read for ``status_policy = "on-activation"``),
    ``timeout`` (seconds per request)."""

    base_url: str
    status_map: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("status_map")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        return check_status_map(v)


def secret_from(
    sink: str,
    key: str,
    *,
    common: SecretStr | None,
    file: Path | None,
    value: SecretStr | None,
    ascii: bool = False,
) -> SecretStr:
    """The sink's secret from exactly one place: ``KEY_file`` (a file), the common
    ``secret_file``, or ``KEY`` itself, which is meant for the environment
    (``SYNCD_SINKS__<NAME>__<KEY>``, or ``…_FILE`` naming a file). ``build_sink`` has already
    let the environment win over the TOML file; two left come from one place. A file is read,
    and a value cleaned, by ``syncd.secret_file`` (BOM and surrounding blanks dropped; with
    ``ascii``, a control or non-ASCII character refused). Raises SinkError naming the setting;
    the secret itself is never part of a message."""
    given = [n for n, v in ((f"{key}_file", file), ("secret_file", common), (key, value)) if v]
    env = f"SYNCD_SINKS__{sink.upper()}__{key.upper()}"
    what = key.replace("_", " ")
    if not given:
        raise SinkError(
            f"{key}_file: required; point it at a file holding the {what} "
            f"(or set {env} in the environment)"
        )
    if len(given) > 1:
        raise SinkError(f"{' and '.join(given)}: give the {what} once")
    try:
        if value is not None:
            text = clean_secret(value.get_secret_value(), key, header=ascii)
            if not text:
                raise SinkError(f"{key}: empty; set {env} to the {what}")
            return SecretStr(text)
        if common is not None:
            return common
        assert file is not None
        return SecretStr(read_secret_file(file, f"{key}_file", header=ascii, what=what))
    except SecretFileError as exc:
        raise SinkError(str(exc)) from None


def refused(response: httpx.Response, message: str) -> Outcome:
    """A non-2xx answer as an Outcome; ``message`` is the vendor's own text (its error header or
    error body), kept as the dead letter's reason."""
    code = response.status_code
    text = message or f"HTTP {code}"
    if code in (401, 403):
        return Outcome("auth", reason=f"HTTP {code}: {text}", status_code=code)
    if code in (408, 429) or code >= 500:
        return Outcome(
            "retry", status_code=code, retry_after=retry_after(response), reason=f"HTTP {code}"
        )
    return Outcome("rejected", status_code=code, reason=text[:2000])


def unanswered(exc: httpx.TransportError, *, sent_write: bool) -> Outcome:
    """A request without an answer. A connection never made wrote nothing; a write that was
    sent may have been processed (``unknown``: the next attempt looks the person up first)."""
    if isinstance(exc, httpx.ConnectError) or not sent_write:
        return Outcome("retry", reason=f"no answer ({type(exc).__name__})")
    return Outcome("retry", reason=f"no answer ({type(exc).__name__})", unknown=True)


def unavailable(outcome: Outcome, what: str) -> TargetUnavailable:
    """An Outcome met while reading (a lookup, a status) as TargetUnavailable."""
    return TargetUnavailable(f"{what}: {outcome.reason}", retry_after=outcome.retry_after)


class Refused(Exception):
    """A read inside ``create_or_match`` (a lookup, a bearer) ended in ``outcome``."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason or outcome.kind)
        self.outcome = outcome


def json_or_none(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a host that is not the vendor)."""
    try:
        return response.json()
    except ValueError:
        return None


def present(values: dict[str, object]) -> dict[str, object]:
    """The payload without empty values: the vendors refuse ``null`` for their named fields
    (BambooHR 409, Personio 422); an absent field is left as the HRIS has it."""
    return {k: v for k, v in values.items() if v is not None and v != ""}


@dataclass(frozen=True)
class Probe:
    """One call of a sink's ``check``: ``grant`` (the vendor's permission or scope that allows
    it), ``what`` it does in words, the request (``path`` as sent, ``kwargs`` for the client)
    and ``shown``, the path as printed (default: ``path``)."""

    grant: str
    what: str
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    shown: str = ""

    @property
    def printed(self) -> str:
        return self.shown or self.path


class ProbeStopped(Exception):
    """Raised by a probe's call when no later probe can succeed (the credential was refused);
    the message is the problem's line."""


async def permission_problems(
    probes: Sequence[Probe],
    call: Callable[[Probe], Awaitable[httpx.Response]],
    message: Callable[[httpx.Response], str],
    *,
    who: str,
    fix: str,
) -> list[str]:
    """The lines of a ``check`` for the ``probes``, in order (none: all allowed). A 403 names
    ``who`` may not do what, and ``fix`` (``{grant}`` is filled in); 401, 429 and 5xx name the
    answer (``message``: the vendor's own words); a call with no answer names the path.
    ``ProbeStopped`` from ``call`` ends the list with its line."""
    problems = []
    for p in probes:
        try:
            r = await call(p)
        except ProbeStopped as exc:
            problems.append(str(exc))
            break
        except httpx.TransportError as exc:
            problems.append(f"{p.printed}: no answer ({type(exc).__name__})")
            continue
        if r.status_code == 403:
            problems.append(
                f"permission: {who} may not {p.what} (HTTP 403 on {p.method} "
                f"{p.printed.split('?')[0]}: {message(r)}); {fix.format(grant=p.grant)}"
            )
        elif r.status_code in (401, 429) or r.status_code >= 500:
            problems.append(f"{p.method} {p.printed}: HTTP {r.status_code}: {message(r)}")
    return problems
