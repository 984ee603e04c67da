"""Settings: environment (``SYNCD_`` prefix, ``__`` for nesting), an optional TOML file named by
``SYNCD_CONFIG``, and ``*_FILE`` variables for secrets mounted as files (Kubernetes secrets).

Precedence, highest first: init arguments, environment, ``*_FILE`` variables, TOML file, defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "SYNCD_"
NESTED = "__"


class ConfigError(Exception):
    """A setting is missing or malformed. The message names the setting and the fix."""


class SmartRecruitersSettings(BaseModel):
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

    @model_validator(mode="after")
    def _oauth_pair(self) -> SmartRecruitersSettings:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError(
                "client_id and client_secret go together: set both for OAuth2, or neither and "
                "use api_key"
            )
        return self

    @property
    def has_credentials(self) -> bool:
        return self.api_key is not None or self.client_id is not None


class SyncSettings(BaseModel):
    lag_window_seconds: float = Field(default=300.0, ge=0)
    page_size: int = Field(default=100, ge=1, le=100)
    sweep_interval_hours: float = Field(default=24.0, gt=0)
    # Applications in these statuses get one GET /candidates/{id}/jobs/{jobId} when they change
    # (source, start date, onboarding status); the list and the audit feed carry the rest.
    application_details_statuses: list[str] = Field(default_factory=lambda: ["OFFERED", "HIRED"])
    # Applications whose status history reached one of these get their interviews read when
    # they change (one call each); [] turns interview reads off.
    interview_statuses: list[str] = Field(default_factory=lambda: ["INTERVIEW"])
    # The latest approval of new or changed jobs (2 calls) and offers past CREATED (1 call).
    approvals: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED,
        extra="forbid",
        case_sensitive=False,
    )

    database_url: str = "sqlite:///syncd.db"
    tenant: str = "default"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    smartrecruiters: SmartRecruitersSettings = SmartRecruitersSettings()
    sync: SyncSettings = SyncSettings()
    # [sinks.NAME] tables: checked by syncd.sinks.config.build_sink (docs/push.md).
    sinks: dict[str, dict[str, Any]] = Field(default_factory=dict)

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
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)


class SecretFileSource(PydanticBaseSettingsSource):
    """``SYNCD_SMARTRECRUITERS__API_KEY_FILE=/run/secrets/key`` sets ``smartrecruiters.api_key``
    from the file's content (trailing newline stripped)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path in os.environ.items():
            upper = name.upper()
            if not (upper.startswith(ENV_PREFIX) and upper.endswith("_FILE")):
                continue
            if upper == f"{ENV_PREFIX}CONFIG_FILE":
                continue
            dotted = upper[len(ENV_PREFIX) : -len("_FILE")].lower().split(NESTED)
            try:
                value = Path(path).read_text().rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(
                    f"{name}: cannot read the file {path!r} ({exc.strerror}); "
                    "point it at a readable file holding the secret"
                ) from None
            node = out
            for part in dotted[:-1]:
                node = node.setdefault(part, {})
            node[dotted[-1]] = value
        return out


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + NESTED.join(str(p).upper() for p in loc)


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p != "__root__")
        name = _env_name(loc) if loc else "settings"
        got = err.get("input")
        # Never echo what was given for anything that may hold a credential.
        hidden = isinstance(got, dict) or any(
            word in str(p).lower() for p in loc for word in ("secret", "key", "token", "password")
        )
        shown = "" if hidden else f" (got {got!r})"
        if err["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown setting; remove it or check its spelling")
        else:
            lines.append(f"{name}: {err['msg']}{shown}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Load settings or raise ConfigError with one line per bad setting."""
    toml_path = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if toml_path and not Path(toml_path).is_file():
        raise ConfigError(
            f"{ENV_PREFIX}CONFIG: no such file {toml_path!r}; point it at a TOML file"
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
