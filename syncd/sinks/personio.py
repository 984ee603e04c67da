"""``type = "personio"``: hires become Personio employees through Personio's v1 API
(``specs/hris/personio/personio-auth-api.yaml`` and ``personio-personnel-data-api-oa3.yaml``).

- Auth: ``POST /v1/auth`` with the client id and secret -> a bearer with ``expires_in``
  (seconds); kept until a minute before it expires, renewed once when an answer is 401.
- Lookup before create: ``GET /v1/company/employees?email=…`` (Personio's v1 has no employee
  number field; the email is unique per company). A person found is matched, never created
  twice.
- Create: ``POST /v1/company/employees`` ``{"employee": {…}}`` -> ``{"success": true, "data":
  {"id": …}}``; a department, office or subcompany Personio does not know is left out by
  Personio and reported in ``meta`` (logged as ``personio_ignored``).
- Status: ``GET /v1/company/employees/{id}``: ``status`` is onboarding, active, leave or inactive;
  ``status_map`` (default ``active`` -> ONBOARDING_SUCCESSFUL).
- Errors: the v1 body ``{"success": false, "error": {"code", "message"}}``: 422 (and 400)
  rejected with the message; 401/403 auth; 429 (with ``Retry-After``) and 5xx retried.

Credentials need the scopes ``employees:read`` (lookups, status) and ``employees:write``
(creates): ``syncd sinks check`` tries both.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import Field, SecretStr

from syncd.sinks.base import ONBOARDING_SUCCESSFUL, Capability, Delivery, Outcome, Person, Sink
from syncd.sinks.hris import (
    MAPPINGS,
    HrisSettings,
    Probe,
    ProbeStopped,
    Refused,
    json_or_none,
    permission_problems,
    present,
    refused,
    secret_from,
    unanswered,
    unavailable,
)

log = structlog.get_logger("syncd.sinks.personio")
EMPLOYEES = "/v1/company/employees"
# The attributes POST /company/employees takes (spec); custom ones as custom_attributes.dynamic_N.
FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "preferred_name",
        "gender",
        "position",
        "subcompany",
        "department",
        "office",
        "hire_date",
        "weekly_working_hours",
        "status",
        "supervisor_id",
        "custom_attributes",
    }
)


class PersonioSettings(HrisSettings):
    """``base_url``: ``https://api.personio.de``. The client secret from ``client_secret_file``,
    the common ``secret_file``, or ``client_secret`` set through the environment
    (``SYNCD_SINKS__<NAME>__CLIENT_SECRET``)."""

    base_url: str = "https://api.personio.de"
    client_id: str = Field(min_length=1)
    client_secret_file: Path | None = None
    client_secret: SecretStr | None = None
    status_map: dict[str, str] = Field(default_factory=lambda: {"active": ONBOARDING_SUCCESSFUL})


def message(response: httpx.Response) -> str:
    """Personio's own words: the v1 ``error.message`` (else the body)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.text[:500]


def attribute(employee: dict[str, Any], key: str) -> Any:
    """A v1 employee attribute's value (``attributes.KEY.value``)."""
    attr = (employee.get("attributes") or {}).get(key)
    return attr.get("value") if isinstance(attr, dict) else None


class PersonioSink(Sink):
    type = "personio"
    capabilities = frozenset({Capability.CREATE, Capability.STATUS})
    settings_model = PersonioSettings
    settings: PersonioSettings
    fields = FIELDS
    default_mapping = MAPPINGS / "personio.toml"

    def __init__(self, name: str, settings: Any, secret: SecretStr | None) -> None:
        super().__init__(name, settings, secret)
        self._secret = secret_from(
            name,
            "client_secret",
            common=secret,
            file=self.settings.client_secret_file,
            value=self.settings.client_secret,
            ascii=self.ascii_secret,
        )
        self._client = httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            headers={"accept": "application/json"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._client.aclose()

    # ---- the bearer ---------------------------------------------------------------------------
    async def _auth(self) -> httpx.Response:
        return await self._client.post(
            "/v1/auth",
            json={
                "client_id": self.settings.client_id,
                "client_secret": self._secret.get_secret_value(),
            },
        )

    async def _bearer(self, *, stale: str | None = None) -> str:
        """The cached bearer, or a new one when it is about to expire or ``stale`` (refused
        with 401) is still the cached one. Raises Refused (401 ``auth``, 429 ``retry``)."""
        async with self._lock:
            if self._token and self._token != stale and time.monotonic() < self._renew_at:
                return self._token
            try:
                r = await self._auth()
            except httpx.TransportError as exc:
                raise Refused(unanswered(exc, sent_write=False)) from None
            if r.status_code != 200:
                o = refused(r, message(r))
                if o.kind == "rejected":  # 400: the credentials are malformed
                    o = Outcome("auth", reason=o.reason, status_code=o.status_code)
                raise Refused(o)
            data = r.json().get("data") or {}
            ttl = float(data.get("expires_in") or 0)
            self._token = str(data["token"])
            self._renew_at = time.monotonic() + ttl - min(60.0, ttl / 10)
            return self._token

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """An API call with the bearer; a 401 renews it once. Raises Refused for the bearer,
        httpx.TransportError for the call."""
        token = await self._bearer()
        r = await self._client.request(
            method, path, headers={"authorization": f"Bearer {token}"}, **kw
        )
        if r.status_code == 401:
            token = await self._bearer(stale=token)
            r = await self._client.request(
                method, path, headers={"authorization": f"Bearer {token}"}, **kw
            )
        return r

    # ---- lookup -------------------------------------------------------------------------------
    async def _match(self, email: str) -> Person | None:
        """The employee with this email (Personio compares without case). Raises Refused."""
        params = {"email": email, "limit": 1, "attributes[]": ["status"]}
        try:
            r = await self._call("GET", EMPLOYEES, params=params)
        except httpx.TransportError as exc:
            raise Refused(unanswered(exc, sent_write=False)) from None
        if r.status_code != 200:
            o = refused(r, message(r))
            raise Refused(o if o.kind != "rejected" else Outcome("retry", reason=o.reason))
        rows = r.json().get("data") or []
        if not rows:
            return None
        state = attribute(rows[0], "status")
        return Person(
            "",
            target_id=str(attribute(rows[0], "id")),
            status=state,
            onboarding=self.settings.status_map.get(state) if state else None,
        )

    # ---- the sink interface ------------------------------------------------------------------
    async def create_or_match(self, delivery: Delivery) -> Outcome:
        data = present(delivery.data)
        email = data.get("email")
        if not email:
            return Outcome(
                "rejected",
                reason="no email for the employee: Personio requires one, and syncd looks the "
                "person up by it before creating",
            )
        try:
            found = await self._match(str(email))
        except Refused as exc:
            return exc.outcome
        if found is not None:
            return Outcome("accepted", target_id=found.target_id, reason="matched")
        try:
            r = await self._call("POST", EMPLOYEES, json={"employee": data})
        except Refused as exc:
            return exc.outcome
        except httpx.TransportError as exc:
            return unanswered(exc, sent_write=True)
        if r.status_code != 200:
            return refused(r, message(r))
        body = r.json()
        if not body.get("success", True):
            return Outcome("rejected", reason=message(r), status_code=r.status_code)
        if body.get("meta"):
            log.warning("personio_ignored", sink=self.name, meta=body["meta"])
        new_id = (body.get("data") or {}).get("id")
        return Outcome(
            "accepted", target_id=str(new_id) if new_id is not None else None, status_code=200
        )

    async def status(self, external_key: str, target_id: str | None) -> Person | None:
        if not target_id:
            return None
        try:
            r = await self._call("GET", f"{EMPLOYEES}/{target_id}")
        except Refused as exc:
            raise unavailable(exc.outcome, "employee status") from None
        except httpx.TransportError as exc:
            raise unavailable(unanswered(exc, sent_write=False), "employee status") from None
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise unavailable(refused(r, message(r)), "employee status")
        state = attribute(r.json().get("data") or {}, "status")
        return Person(
            external_key,
            target_id=target_id,
            status=state,
            onboarding=self.settings.status_map.get(state) if state else None,
        )

    async def check(self) -> list[str]:
        """Tells apart: a host that is not Personio (unreachable, or no ``/v1/auth`` there),
        credentials Personio refuses (401), and each scope they lack (403). Nothing is
        written: the create is probed with an empty employee, which Personio refuses (422) once
        the scope is granted."""
        where = self.settings.base_url
        try:
            r = await self._auth()
        except httpx.TransportError as exc:
            return [f"base_url: cannot reach {where} ({type(exc).__name__}); check the host"]
        body = json_or_none(r)
        if r.status_code in (400, 401) and isinstance(body, dict) and "success" in body:
            src = self.secret_origin
            given = f"; the client secret from {src.setting}" if src else ""
            fix = f", and {src.fix('the client secret')}" if src else ""
            return [
                f"client_id/client_secret: Personio refuses the credentials (HTTP "
                f"{r.status_code}: {message(r)}{given}); create them under Settings > "
                f"Integrations > API credentials{fix}"
            ]
        if r.status_code != 200 or not isinstance(body, dict) or "data" not in body:
            return [
                f"base_url: {where} does not answer as Personio (HTTP {r.status_code} for "
                "/v1/auth); use https://api.personio.de"
            ]
        probes = [
            Probe("employees:read", "read employees (lookups, status)", "GET", EMPLOYEES,
                  {"params": {"limit": 1}}),
            Probe("employees:write", "create employees", "POST", EMPLOYEES,
                  {"json": {"employee": {}}}),
        ]  # fmt: skip

        async def call(p: Probe) -> httpx.Response:
            try:
                return await self._call(p.method, p.path, **p.kwargs)
            except Refused as exc:
                raise ProbeStopped(f"/v1/auth: {exc.outcome.reason}") from None

        return await permission_problems(
            probes,
            call,
            message,
            who="the credentials",
            fix="give them the '{grant}' scope (Personio: read/write access to Employees)",
        )
