"""Settings: environment (``SYNCD_`` prefix, ``__`` for nesting), an optional TOML file named by
``SYNCD_CONFIG``, and ``*_FILE`` variables for secrets mounted as files (Kubernetes secrets); in
the TOML file, ``api_key_file`` and ``client_secret_file`` of ``[smartrecruiters]`` (and of
``[tenants.NAME.smartrecruiters]``) are their file form.

Precedence, highest first: init arguments, environment, ``*_FILE`` variables, TOML file, defaults.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from syncd.secret_file import SecretFileError, read_secret_file

ENV_PREFIX = "SYNCD_"
NESTED = "__"
DATABASE_URL_FORMS = (
    "syncd supports SQLite (sqlite:///path/to/mirror.db, sqlite:////absolute/path.db) and "
    "PostgreSQL (postgresql://user:password@host:5432/database)"
)
_SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


# Characters an HTTP header value cannot carry (RFC 9110 field-value: visible ASCII, space, tab).
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e]")


class ConfigError(Exception):
    """A setting is missing or malformed. The message names the setting and the fix."""


# Every number setting must be finite: pydantic takes `nan` and `inf` for a float by default,
# and `nan` passes no bound, so the refusal said "should be less than or equal to …" of `nan`.
FINITE = ConfigDict(allow_inf_nan=False)
FINITE_RULE = "must be a finite number (not nan or inf)"


class SmartRecruitersSettings(BaseModel):
    model_config = FINITE

    base_url: str = "https://api.smartrecruiters.com"
    api_key: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # The API documentation asks for generous timeouts (128 s or more).
    timeout: float = Field(default=130.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    rate_limit: float = Field(default=10.0, gt=0, description="requests per second")
    max_concurrency: int = Field(default=8, ge=1)
    candidates_concurrency: int = Field(default=1, ge=1)
    publication_rate_limit: float = Field(default=2.0, gt=0)
    max_retries: int = Field(default=8, ge=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("api_key", "client_id", "client_secret")
    @classmethod
    def _header_safe(cls, v: Any) -> Any:
        # The key travels in an HTTP header (x-smarttoken) and the OAuth2 pair in a request:
        # httpx refuses line breaks, control and non-ASCII characters mid-request, so say it
        # here, naming the setting (a file holding two lines is the usual cause).
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        if isinstance(raw, str) and _HEADER_UNSAFE.search(raw):
            raise ValueError(
                "holds a line break or another character not allowed in an HTTP header "
                "(control or non-ASCII); set it to the credential alone, on one line"
            )
        return v

    @model_validator(mode="after")
    def _oauth_pair(self) -> SmartRecruitersSettings:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError(
                "client_id and client_secret go together: set both for OAuth2, or neither and "
                "use api_key"
            )
        if self.api_key is not None and self.client_id is not None:
            # Two credentials would make the one used depend on code order; the user meant one.
            raise ValueError(
                "api_key and client_id/client_secret are both set: syncd uses one credential, "
                "the API key or the OAuth2 client; unset the other"
            )
        return self

    @property
    def has_credentials(self) -> bool:
        return self.api_key is not None or self.client_id is not None


# The keys of a [smartrecruiters] table (top-level or a tenant's) that name a file holding a
# credential, as a sink's *_file settings do, and the credential each gives: the TOML form of
# SYNCD_SMARTRECRUITERS__API_KEY_FILE (docs: README "Configuration").
CREDENTIAL_FILES = {"api_key_file": "api_key", "client_secret_file": "client_secret"}
_CREDENTIAL_WORDS = {"api_key": "SmartRecruiters API key", "client_secret": "client secret"}


class SyncSettings(BaseModel):
    model_config = FINITE

    lag_window_seconds: float = Field(default=300.0, ge=0)
    page_size: int = Field(default=100, ge=1, le=100)
    # Applications in these statuses get one GET /candidates/{id}/jobs/{jobId} when they change
    # (source, start date, onboarding status); the list and the audit feed carry the rest. Their
    # candidates get one GET /candidates/{id} (the full record an HRIS needs).
    application_details_statuses: list[str] = Field(default_factory=lambda: ["OFFERED", "HIRED"])
    # Applications whose status history reached one of these get their interviews read when
    # they change (one call each); [] turns interview reads off.
    interview_statuses: list[str] = Field(default_factory=lambda: ["INTERVIEW"])
    # The latest approval of new or changed jobs (2 calls) and offers past CREATED (1 call).
    approvals: bool = True


MAX_INTERVAL_SECONDS = 30 * 86400


class ScheduleSettings(BaseModel):
    """``syncd run``'s timetable (docs/daemon.md): the incremental pull of every resource, the
    dispatcher's push pass, the complete sweep, and how long a stop may take."""

    model_config = FINITE

    # At least a second: a smaller interval only makes the jobs skip their own runs (a run is
    # still going at the next time: one "skipped" warning each), thousands a second. At most 30
    # days (a year for the sweep): an hour away is how tests and benchmarks keep a job quiet,
    # and more than the scheduler's clock can add overflows it.
    poll_interval_seconds: float = Field(default=300.0, ge=1, le=MAX_INTERVAL_SECONDS)
    push_interval_seconds: float = Field(default=30.0, ge=1, le=MAX_INTERVAL_SECONDS)
    sweep_interval_hours: float = Field(default=24.0, ge=1 / 3600, le=366 * 24)
    # After SIGTERM/SIGINT: the time the whole stop may take (the current write group commits or
    # rolls back, locks released, exit 0); past it the process exits anyway (143 or 130). The
    # shipped terminationGracePeriodSeconds (Kubernetes) and TimeoutStopSec (systemd) are the
    # same figure: change them together.
    stop_grace_seconds: float = Field(default=30.0, gt=0, le=MAX_INTERVAL_SECONDS)
    # PostgreSQL: how often a standby tries to take the lead, and a leader checks it still holds it.
    leader_check_seconds: float = Field(default=5.0, ge=1, le=MAX_INTERVAL_SECONDS)


class HttpSettings(BaseModel):
    """The daemon's ops HTTP server: /healthz, /readyz, /metrics and the SmartRecruiters
    webhook callback endpoint."""

    model_config = FINITE

    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


# Webhook signing keys and handshake secrets: SmartRecruiters' are URL-safe tokens, and a
# handshake secret goes back out in a response header (X-Hook-Secret). Visible ASCII only: a
# space, a control character (a stray newline of a pasted key) or a non-ASCII character is a
# copy error, and could not travel in a header.
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]{1,1024}$")
HEADER_SAFE_RULE = (
    "must be 1 to 1024 visible ASCII characters (no space, control or non-ASCII character)"
)


def header_safe(value: str) -> bool:
    """``value`` may be a webhook signing key or handshake secret (``HEADER_SAFE_RULE``)."""
    return _HEADER_SAFE.fullmatch(value) is not None


class WebhooksSettings(BaseModel):
    """SmartRecruiters webhooks in (docs/daemon.md): ``callback_url`` is the public URL of the
    daemon's ``/webhooks/smartrecruiters`` endpoint; ``secret_keys`` the subscription's signing
    keys (newest first while they rotate); ``events`` what ``syncd webhooks subscribe`` asks for."""

    model_config = FINITE

    callback_url: str | None = None
    # NoDecode: from the environment, "k1,k2" (or a JSON list) is split by the validator below.
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    events: list[str] = Field(
        default_factory=lambda: [
            "application.created",
            "application.status.updated",
            "candidate.created",
            "candidate.updated",
            "candidate.deleted",
            "job.created",
            "job.updated",
            "job.status.updated",
            "offer.created",
            "offer.updated",
        ]
    )
    # A callback whose smartrecruiters-timestamp is further than this from now is refused.
    tolerance_seconds: float = Field(default=300.0, gt=0)

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        # From a *_FILE or a plain variable: a JSON list, or one key per line or comma-separated.
        if isinstance(v, str):
            if v.lstrip().startswith("["):
                return json.loads(v)
            return [k.strip() for k in re.split(r"[,\n]", v) if k.strip()]
        return v

    @field_validator("secret_keys")
    @classmethod
    def _keys_header_safe(cls, v: list[SecretStr]) -> list[SecretStr]:
        for i, key in enumerate(v, 1):
            if not header_safe(key.get_secret_value()):
                # Which key, never what it holds: the message reaches logs and terminals.
                raise ValueError(
                    f"key {i} of {len(v)} {HEADER_SAFE_RULE}; give each key as SmartRecruiters "
                    "shows it (comma-separated, one per line, or a JSON list)"
                )
        return v

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// to a loopback address)")
        return v


# A [tenants.NAME] name: it appears in URLs (/webhooks/smartrecruiters/NAME), metric labels and
# every row's tenant column. Lowercase: environment variable names reach syncd lowercased.
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TENANT_RULE = (
    "must be 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
)
# A tenant that sets any of these inherits none of them from [smartrecruiters]: an API key of
# one tenant never pairs with another's OAuth2 client.
_CREDENTIALS = frozenset({"api_key", "client_id", "client_secret"})


class TenantSettings(BaseModel):
    """One ``[tenants.NAME]`` table (docs/daemon.md, "Several tenants"): the tenant's own
    SmartRecruiters credential and settings (fields it leaves out come from the top-level
    ``[smartrecruiters]``), webhooks (likewise, from ``[webhooks]``) and, when given, its own
    sinks (else the top-level ``[sinks]``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    smartrecruiters: SmartRecruitersSettings = SmartRecruitersSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    sinks: dict[str, dict[str, Any]] | None = None


def _overlay(base: BaseModel, over: BaseModel, reset: frozenset[str] = frozenset()) -> Any:
    """``base`` with the fields ``over`` was given explicitly; when ``over`` sets one of
    ``reset``, the others of ``reset`` are not taken from ``base``."""
    given = over.model_fields_set
    update = {k: None for k in reset} if given & reset else {}
    update.update({k: getattr(over, k) for k in given})
    return base.model_copy(update=update)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED,
        extra="forbid",
        case_sensitive=False,
        allow_inf_nan=False,
    )

    database_url: str = "sqlite:///syncd.db"
    tenant: str = "default"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # syncd migrate: how long it waits for another migrate holding the migrate lock (hosts whose
    # units run `syncd migrate` as they start together) before it gives up with exit 5. A
    # migration of the shipped revisions takes seconds; 120 s leaves room for a slow database.
    migrate_wait_seconds: float = Field(default=120.0, ge=0, le=MAX_INTERVAL_SECONDS)
    smartrecruiters: SmartRecruitersSettings = SmartRecruitersSettings()
    sync: SyncSettings = SyncSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    http: HttpSettings = HttpSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    # [sinks.NAME] tables: checked by syncd.sinks.config.build_sink (docs/push.md).
    sinks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # [tenants.NAME] tables: several SmartRecruiters tenants in one configuration (syncd run
    # serves them all; one-shot commands act on the one SYNCD_TENANT names).
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    # True for the settings for_tenant made from a [tenants.NAME] table: messages then name the
    # tenant's own variables (SYNCD_TENANTS__NAME__…) and webhook path.
    _from_tenants: bool = PrivateAttr(default=False)
    # Where the sink tables come from, for sink_origin: the TOML file's content and path, and
    # the path of the [sinks] tables in it (("tenants", NAME, "sinks") for a tenant's own).
    _toml: dict[str, Any] | None = PrivateAttr(default=None)
    _toml_path: str | None = PrivateAttr(default=None)
    _sinks_at: tuple[str, ...] = PrivateAttr(default=("sinks",))

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, v: dict[str, TenantSettings]) -> dict[str, TenantSettings]:
        for name in v:
            if not TENANT_NAME.fullmatch(name):
                raise ValueError(f"tenant name {name!r} {TENANT_RULE} (e.g. [tenants.acme_eu])")
        return v

    def tenant_names(self) -> list[str]:
        """The tenants this configuration serves: the ``[tenants]`` names, sorted; else the one
        ``tenant`` label."""
        return sorted(self.tenants) or [self.tenant]

    def for_tenant(self, name: str) -> Settings:
        """The settings of one tenant as a single-tenant configuration: ``tenant`` = ``name``,
        its SmartRecruiters and webhooks settings laid over the top-level ones, its sinks (or
        the top-level ones), no ``tenants``. KeyError for a name not configured."""
        if not self.tenants:
            if name != self.tenant:
                raise KeyError(name)
            return self
        t = self.tenants[name]
        one = self.model_copy(
            update={
                "tenant": name,
                "smartrecruiters": _overlay(self.smartrecruiters, t.smartrecruiters, _CREDENTIALS),
                "webhooks": _overlay(self.webhooks, t.webhooks),
                "sinks": self.sinks if t.sinks is None else t.sinks,
                "tenants": {},
            }
        )
        one._from_tenants = True
        if t.sinks is not None:
            one._sinks_at = ("tenants", name, "sinks")
        return one

    def sink_origin(self, sink: str, key: str) -> tuple[str, str] | None:
        """Where ``key`` of ``[sinks.SINK]`` was given: ``("environment",
        "SYNCD_SINKS__SINK__KEY")`` (``SYNCD_TENANTS__NAME__SINKS__…`` for a tenant's own sinks)
        when that variable is set,
        else ``("file", "SYNCD_CONFIG (PATH) [sinks.SINK]")`` when the TOML file holds it, else
        None (an argument). The environment wins over the file (pydantic-settings merges the
        tables); ``syncd.sinks.config.build_sink`` uses this to apply the same rule across a
        secret's spellings (``api_key``, ``api_key_file``, ``secret_file``)."""
        parts = (*self._sinks_at, sink, key)
        var = _env_name(parts)
        if any(n.upper() == var for n in os.environ):
            return "environment", var
        if self._toml is not None and _in_toml(self._toml, parts):
            return "file", f"SYNCD_CONFIG ({self._toml_path}) [{'.'.join(parts[:-1])}]"
        return None

    def sink_table(self, sink: str) -> str:
        """The TOML table of sink ``sink`` as messages name it: ``sinks.hr``, or
        ``tenants.NAME.sinks.hr`` for a tenant's own sinks."""
        return ".".join((*self._sinks_at, sink))

    def variable(self, setting: str) -> str:
        """The environment variable that sets ``setting`` (``SMARTRECRUITERS__API_KEY``) of this
        tenant: ``SYNCD_TENANTS__NAME__…`` for a tenant of ``[tenants]``, else ``SYNCD_…``."""
        if self._from_tenants:
            return f"{ENV_PREFIX}TENANTS{NESTED}{self.tenant.upper()}{NESTED}{setting}"
        return ENV_PREFIX + setting

    def webhook_path(self) -> str:
        """The daemon's callback path for this tenant (docs/daemon.md)."""
        base = "/webhooks/smartrecruiters"
        return f"{base}/{self.tenant}" if self._from_tenants else base

    def credential_variables(self) -> str:
        """The variable(s) holding this tenant's credential, as one phrase:
        ``SYNCD_TENANTS__NAME__SMARTRECRUITERS__API_KEY`` (or ``…__CLIENT_ID and
        …__CLIENT_SECRET`` for OAuth2), ``SYNCD_SMARTRECRUITERS__…`` without ``[tenants]``. When
        no variable gives it, the configuration file's table did: that table's keys first."""
        sr = f"SMARTRECRUITERS{NESTED}"
        if self.smartrecruiters.client_id is not None:
            names = [self.variable(sr + "CLIENT_ID"), self.variable(sr + "CLIENT_SECRET")]
            keys = "client_id and client_secret (or client_secret_file)"
        else:
            names = [self.variable(sr + "API_KEY")]
            keys = "api_key (or api_key_file)"
        phrase = " and ".join(names)
        present = {n.upper() for n in os.environ}
        if any(n in present or f"{n}_FILE" in present for n in names):
            return phrase
        # Not from the environment: the configuration file gave it.
        table = (
            f"[tenants.{self.tenant}.smartrecruiters]"
            if self._from_tenants
            else "[smartrecruiters]"
        )
        return f"{keys} of {table} in {ENV_PREFIX}CONFIG, or set {phrase}"

    def missing_credentials(self) -> str:
        """The one line saying this tenant has no SmartRecruiters credential, naming its
        variables."""
        key, cid, secret = (
            self.variable(f"SMARTRECRUITERS{NESTED}{k}")
            for k in ("API_KEY", "CLIENT_ID", "CLIENT_SECRET")
        )
        who = f" for tenant {self.tenant}" if self._from_tenants else ""
        return f"no SmartRecruiters credentials{who}: set {key}, or {cid} and {secret}"

    def select_tenant(self) -> Settings:
        """The one tenant a one-shot command acts on: ``SYNCD_TENANT`` among ``[tenants]`` (the
        only one when a single tenant is configured and ``SYNCD_TENANT`` is not set); ConfigError
        naming the configured tenants otherwise. Unchanged without ``[tenants]``."""
        if not self.tenants:
            return self
        name = self.tenant
        if name not in self.tenants:
            if len(self.tenants) == 1 and "tenant" not in self.model_fields_set:
                name = next(iter(self.tenants))
            elif "tenant" not in self.model_fields_set:
                raise ConfigError(
                    f"SYNCD_TENANT: not set, and several tenants are configured "
                    f"({', '.join(sorted(self.tenants))}); set SYNCD_TENANT to the one this "
                    "command acts on"
                )
            else:
                raise ConfigError(
                    f"SYNCD_TENANT: {name!r} is not one of the configured tenants "
                    f"({', '.join(sorted(self.tenants))}); set SYNCD_TENANT to one of them"
                )
        return self.for_tenant(name)

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v: str) -> str:
        # Every row is keyed by the tenant label, and the label reaches the same places as a
        # [tenants.NAME] name (lock keys, metric labels, SYNCD_TENANT naming one of [tenants]):
        # one rule for both (docs/daemon.md, "Names").
        if not TENANT_NAME.fullmatch(v):
            raise ValueError(TENANT_RULE + " (e.g. default, acme_eu)")
        return v

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        scheme, sep, _ = v.partition("://")
        if not sep or scheme.lower() not in _SUPPORTED_SCHEMES:
            got = f"'{scheme}'" if sep else "no scheme"
            raise ValueError(f"unsupported database URL ({got}); {DATABASE_URL_FORMS}")
        authority = v.partition("://")[2].partition("/")[0]
        if authority.count("@") > 1:
            # The driver would read the host from the password's tail: it can never connect.
            raise ValueError(
                "has more than one '@' before the host; percent-encode @ in the password as %40 "
                "(postgresql://user:p%40ss@host:5432/database)"
            )
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(v)
        except ArgumentError:
            raise ValueError(f"not a database URL; {DATABASE_URL_FORMS}") from None
        if url.get_backend_name() == "sqlite" and url.host:
            raise ValueError(
                f"a SQLite URL has three slashes before a relative path ({DATABASE_URL_FORMS})"
            )
        name = url.database or ""
        in_memory = name.startswith("file:") and url.query.get("mode") == "memory"
        if url.get_backend_name() == "sqlite" and (name in ("", ":memory:") or in_memory):
            # An in-memory database vanishes with the process: the mirror would be lost.
            raise ValueError(
                "a mirror needs a file path, not an in-memory SQLite database "
                "(sqlite:///path/to/mirror.db)"
            )
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            SecretFileSource(settings_cls),
        ]
        toml_path = os.environ.get(f"{ENV_PREFIX}CONFIG")
        if toml_path:
            data = read_credential_files(read_toml(toml_path), toml_path, os.environ)
            sources.append(InitSettingsSource(settings_cls, init_kwargs=data))
        return tuple(sources)


def read_credential_files(
    data: dict[str, Any], path: str, environ: typing.Mapping[str, str]
) -> dict[str, Any]:
    """The TOML file's settings with each ``api_key_file`` / ``client_secret_file`` of
    ``[smartrecruiters]`` and ``[tenants.NAME.smartrecruiters]`` replaced by the credential the
    file holds, read by :func:`syncd.secret_file.read_secret_file` (a BOM and surrounding blanks
    dropped; an empty or unreadable file, or one holding a character an HTTP header cannot carry,
    refused naming the key). As for a sink's secret (docs/push.md, "Secrets"), the environment
    wins: a file key whose credential a variable gives (``SYNCD_…__API_KEY`` or its ``_FILE``)
    is dropped unread. Raises ConfigError, one line naming the file and key, never the secret;
    the key and its file form both in one table are refused naming both."""
    present = {n.upper() for n in environ}
    out = dict(data)
    tables: list[tuple[str, ...]] = [("smartrecruiters",)]
    tenants = data.get("tenants")
    if isinstance(tenants, dict):
        tables += [
            ("tenants", n, "smartrecruiters") for n, t in tenants.items() if isinstance(t, dict)
        ]
    for loc in tables:
        parent = out  # copied down to the table, so that the file's own data stays as read
        for part in loc[:-1]:
            parent[part] = dict(parent[part])
            parent = parent[part]
        table = parent.get(loc[-1])
        if not isinstance(table, dict) or not CREDENTIAL_FILES.keys() & table.keys():
            continue
        table = parent[loc[-1]] = dict(table)
        where = f"{ENV_PREFIX}CONFIG ({path}): [{'.'.join(loc)}]"
        for file_key, key in CREDENTIAL_FILES.items():
            if file_key not in table:
                continue
            file = table.pop(file_key)
            variable = _env_name((*loc, key))
            if variable in present or f"{variable}_FILE" in present:
                continue  # the environment gives it: the file is not read
            if key in table:
                raise ConfigError(
                    f"{where} {key} and {file_key} both give the {_CREDENTIAL_WORDS[key]}; "
                    "keep one of them"
                )
            if not isinstance(file, str):
                raise ConfigError(
                    f"{where} {file_key}: must be the path of a file holding the "
                    f"{_CREDENTIAL_WORDS[key]} (a string)"
                )
            try:
                table[key] = read_secret_file(
                    file, f"{where} {file_key}", header=True, what=_CREDENTIAL_WORDS[key]
                )
            except SecretFileError as exc:
                raise ConfigError(str(exc)) from None
    return out


class SecretFileSource(PydanticBaseSettingsSource):
    """``SYNCD_SMARTRECRUITERS__API_KEY_FILE=/run/secrets/key`` sets ``smartrecruiters.api_key``
    from the file's content, read by :func:`syncd.secret_file.read_secret_file` (a leading BOM
    and surrounding whitespace dropped; an empty file refused). The plain variable
    (``SYNCD_SMARTRECRUITERS__API_KEY``) beside it is refused, naming both: two values of one
    secret in the environment leave the one meant unclear. Not for ``SYNCD_SINKS__…_FILE``:
    those are the sinks' own ``*_file`` settings (e.g. ``secret_file``, ``api_key_file``)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        present = {n.upper() for n in os.environ}
        for name, path in os.environ.items():
            upper = name.upper()
            if not (upper.startswith(ENV_PREFIX) and upper.endswith("_FILE")):
                continue
            if upper == f"{ENV_PREFIX}CONFIG_FILE":
                continue
            if upper.startswith(f"{ENV_PREFIX}SINKS{NESTED}") or (
                upper.startswith(f"{ENV_PREFIX}TENANTS{NESTED}")
                and f"{NESTED}SINKS{NESTED}" in upper
            ):
                # A sink reads its own ``*_file`` settings (docs/push.md): the variable reaches it
                # as that setting, naming the file, through the environment source.
                continue
            plain = upper.removesuffix("_FILE")
            if plain in present:
                raise ConfigError(
                    f"{plain} and {upper}: both set the same secret in the environment; "
                    "unset one of them"
                )
            dotted = upper[len(ENV_PREFIX) : -len("_FILE")].lower().split(NESTED)
            try:
                # Not checked for a header here: the field's validator names the variable.
                value = read_secret_file(path, upper, header=False)
            except SecretFileError as exc:
                raise ConfigError(str(exc)) from None
            node = out
            for part in dotted[:-1]:
                node = node.setdefault(part, {})
            node[dotted[-1]] = value
        return out


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + NESTED.join(str(p).upper() for p in loc)


# ---- names: every SYNCD_ variable and TOML key must be a setting --------------------------------
def _variants(annotation: Any) -> tuple[Any, ...]:
    """The types of ``X | None`` and other unions; the annotation itself otherwise."""
    args = typing.get_args(annotation)
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return tuple(a for a in args if a is not type(None)) if union else (annotation,)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for a in _variants(annotation):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _open_ended(annotation: Any) -> bool:
    """A dict-typed setting (e.g. a table of named sinks) takes any key below it."""
    return any(a is dict or typing.get_origin(a) is dict or a is Any for a in _variants(annotation))


def closest(word: str, choices: list[str]) -> str | None:
    """The valid name closest to a misspelt ``word`` (difflib, cutoff 0.6), else None."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not found:  # RATELIMIT for rate_limit: compare without the separators too
        plain = {c.replace("_", ""): c for c in choices}
        hit = difflib.get_close_matches(word.replace("_", ""), list(plain), n=1, cutoff=0.6)
        found = [plain[hit[0]]] if hit else []
    return found[0] if found else None


def _named_tables(annotation: Any) -> type[BaseModel] | None:
    """The model of a ``dict[str, Model]`` setting (``[tenants.NAME]`` tables), else None."""
    for a in _variants(annotation):
        if typing.get_origin(a) is dict:
            args = typing.get_args(a)
            if len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
                return args[1]
    return None


def _unknown_path(parts: list[str], model: type[BaseModel]) -> tuple[int, str | None] | None:
    """None when ``parts`` names a setting of ``model``; else (index of the first unknown part,
    the closest valid name at that level)."""
    i = 0
    while i < len(parts):
        part = parts[i]
        fields = model.model_fields
        if part not in fields:
            return i, closest(part, list(fields))
        annotation = fields[part].annotation
        tables = _named_tables(annotation)
        if tables is not None:  # the next part is a table's name: any name, checked later
            model = tables
            i += 2
            continue
        if _open_ended(annotation):
            return None
        sub = _submodel(annotation)
        if sub is None:
            return None if i == len(parts) - 1 else (i + 1, None)
        model = sub
        i += 1
    return None


def check_environment(environ: typing.Mapping[str, str]) -> list[str]:
    """One line per ``SYNCD_`` variable that is no setting, with the closest valid name.
    ``SYNCD_CONFIG`` (the file) and ``SYNCD_TEST_*`` (the test suite's own) are not settings."""
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        rest = upper[len(ENV_PREFIX) :]
        if rest == "CONFIG" or rest.startswith("TEST_"):
            continue
        file_suffix = rest.endswith("_FILE")
        parts = (rest[: -len("_FILE")] if file_suffix else rest).lower().split(NESTED)
        bad = _unknown_path(parts, Settings)
        if bad is None:
            continue
        i, near = bad
        hint = "remove it or check its spelling"
        if near is not None:
            fixed = [*parts[:i], near, *parts[i + 1 :]]
            hint = f"did you mean {_env_name(tuple(fixed))}{'_FILE' if file_suffix else ''}?"
        lines.append(f"{name}: unknown setting; {hint}")
    return lines


def check_toml_keys(data: dict[str, Any], path: str) -> list[str]:
    """One line per key of the TOML file that is no setting, with the closest valid key."""
    lines: list[str] = []

    def walk(node: dict[str, Any], model: type[BaseModel], where: list[str]) -> None:
        fields = list(model.model_fields)
        if model is SmartRecruitersSettings:
            fields += CREDENTIAL_FILES  # read by read_credential_files
        for key, value in node.items():
            table = f"[{'.'.join(where)}] " if where else ""
            if key not in fields:
                near = closest(key, fields)
                hint = f"did you mean {near}?" if near else "remove it or check its spelling"
                lines.append(f"SYNCD_CONFIG ({path}): {table}{key}: unknown key; {hint}")
                continue
            if key not in model.model_fields:
                continue
            annotation = model.model_fields[key].annotation
            tables = _named_tables(annotation)
            if tables is not None and isinstance(value, dict):
                for name, table in value.items():
                    if isinstance(table, dict):
                        walk(table, tables, [*where, key, name])
                continue
            sub = _submodel(annotation)
            if sub is not None and isinstance(value, dict):
                walk(value, sub, [*where, key])

    walk(data, Settings, [])
    return lines


def read_toml(path: str) -> dict[str, Any]:
    """The TOML file named by SYNCD_CONFIG, or ConfigError naming the file, line and column."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG: no such file {path!r}; point it at a TOML file"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG ({path}): cannot read it ({exc.strerror}); make it readable"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG ({path}): byte {exc.start} is not UTF-8; save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        at = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        where = f"line {at.group(1)}, column {at.group(2)}: " if at else ""
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG ({path}): {where}{what}; fix the file's TOML syntax"
        ) from None


def _in_toml(data: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    node: Any = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            return False
        node = node[part]
    return True


def _source_name(
    loc: tuple[int | str, ...], toml: dict[str, Any] | None, toml_path: str | None
) -> str:
    """Where a bad value came from: the environment variable if set, else the file and key."""
    keys = tuple(p for p in loc if isinstance(p, str))
    env = {n.upper() for n in os.environ}
    for i in range(len(keys), 0, -1):
        name = _env_name(keys[:i])
        if name in env:
            return name
        if f"{name}_FILE" in env:  # the value is the content of the file it names
            return f"{name}_FILE"
    if keys:
        # A table's own rule (client_id and client_secret go together): the variables that set
        # fields of that table, when there are any, rather than the file's table.
        table = _env_name(keys) + NESTED
        below = sorted(n.removesuffix("_FILE") for n in env if n.startswith(table))
        if below:
            return ", ".join(dict.fromkeys(below))
    if toml is not None and toml_path and keys and _in_toml(toml, keys):
        table = f"[{'.'.join(keys[:-1])}] " if len(keys) > 1 else ""
        return f"SYNCD_CONFIG ({toml_path}): {table}{keys[-1]}"
    return _env_name(keys) if keys else "settings"


def describe_validation_error(
    exc: ValidationError, toml: dict[str, Any] | None = None, toml_path: str | None = None
) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p != "__root__")
        name = _source_name(loc, toml, toml_path) if loc else "settings"
        got = err.get("input")
        # Never echo what was given for anything that may hold a credential (a database URL
        # may carry a password).
        hidden = isinstance(got, dict) or any(
            word in str(p).lower()
            for p in loc
            for word in ("secret", "key", "token", "password", "database_url")
        )
        shown = "" if hidden else f" (got {got!r})"
        if err["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown setting; remove it or check its spelling")
        elif err["type"] in ("model_type", "dict_type", "model_attributes_type"):
            # Pydantic names the class (TenantSettings): say what the file should hold.
            keys = [str(p) for p in loc]
            if keys[:1] == ["tenants"] and len(keys) == 2:
                keys.append("smartrecruiters")
            lines.append(f"{name}: must be a table of settings (e.g. [{'.'.join(keys)}]){shown}")
        elif err["type"] == "finite_number":
            lines.append(f"{name}: {FINITE_RULE}{shown}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {msg}{shown}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Load settings or raise ConfigError with one line per bad setting: a malformed TOML file
    (file, line, column), an unknown ``SYNCD_`` variable or TOML key (with the closest valid
    name), a bad value (named by the variable or the file and key it came from)."""
    toml_path = os.environ.get(f"{ENV_PREFIX}CONFIG")
    toml = read_toml(toml_path) if toml_path else None
    unknown = check_environment(os.environ)
    if toml is not None and toml_path:
        unknown += check_toml_keys(toml, toml_path)
    if unknown:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(unknown))
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        errors = exc.errors()
        only = errors[0] if len(errors) == 1 else None
        if only is not None and only["loc"] == ("tenant",) and only["type"] == "value_error":
            # A bad tenant label alone: one line, as SYNCD_TENANT's other refusals
            # (select_tenant) are.
            name = _source_name(("tenant",), toml, toml_path)
            msg = only["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{name}: {only['input']!r} {msg}") from None
        raise ConfigError(describe_validation_error(exc, toml, toml_path)) from None
    except SettingsError as exc:
        # pydantic-settings reads a list or table from the environment as JSON only.
        raise ConfigError(f"invalid settings:\n  {_settings_error(exc)}") from None
    settings._toml, settings._toml_path = toml, toml_path
    return settings


def _settings_error(exc: SettingsError) -> str:
    """One line naming the environment variable pydantic-settings could not parse, and the fix."""
    m = re.search(r'error parsing value for field "([^"]+)" from source', str(exc))
    if m is None:
        return f"{exc}; check the SYNCD_ variables' values"
    group = (ENV_PREFIX + m.group(1)).upper()
    found = sorted(
        k for k in os.environ if k.upper() == group or k.upper().startswith(group + "__")
    )
    var = " or ".join(found) or group
    return (
        f"{var}: not valid JSON; a list or table from the environment is written as JSON, "
        'e.g. \'["INTERVIEW", "OFFERED"]\''
    )
