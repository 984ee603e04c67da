"""``type = "bamboohr"``: hires become BambooHR employees through BambooHR's REST API
(``specs/hris/bamboohr/public.yaml``, BambooHR's official OpenAPI 3.1).

- Auth: HTTP Basic with the API key as the user name and any password (spec, ``basic``).
- Lookup before create: ``POST /api/v2/datasets/employee/data`` with the filter
  ``employeeNumber eq '<key>' or workEmail eq '<email>'`` (operation get-data-from-dataset-v2),
  from the mapped ``employeeNumber`` (the deterministic ``sr-…`` key by default) and
  ``workEmail``. A row found is the person: matched, never created twice.
- Create: ``POST /api/v1/employees`` (create-employee) -> 201 without a body; the new id is the
  last segment of ``Location``.
- Status: ``GET /api/v1/employees/{id}?fields=status`` (get-employee): ``Active``/``Inactive``
  through ``status_map`` (default ``Active`` -> ONBOARDING_SUCCESSFUL).
- Errors: no body; the message is in ``X-BambooHR-Error-Message`` (BambooHR's guides; the
  spec's ``components.responses`` name ``X-BambooHR-Message``). 400/409 rejected with it; 401/403
  auth; 429 (with ``Retry-After``, since 2026-09-16) and 503 (throttling) retried.

Permissions the API key's user needs: add employees (``employee.write``), run the employee
dataset (``report``), read employees (``employee``): ``syncd sinks check`` tries each.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field, SecretStr

from syncd.sinks.base import (
    ONBOARDING_SUCCESSFUL,
    Capability,
    Delivery,
    Outcome,
    Person,
    Sink,
)
from syncd.sinks.hris import (
    MAPPINGS,
    HrisSettings,
    Probe,
    Refused,
    json_or_none,
    permission_problems,
    present,
    refused,
    secret_from,
    unanswered,
    unavailable,
)

DATASET = "/v2/datasets/employee/data"
# BambooHR's older gateway form, https://api.bamboohr.com/api/gateway.php/COMPANY, as base_url.
GATEWAY = re.compile(r"/api/gateway\.php/[^/]+$")


class BambooHRSettings(HrisSettings):
    """``base_url``: ``https://COMPANY.bamboohr.com`` (or the gateway form
    ``https://api.bamboohr.com/api/gateway.php/COMPANY``). The API key from ``api_key_file``, the
    common ``secret_file``, or ``api_key`` set through the environment
    (``SYNCD_SINKS__<NAME>__API_KEY``)."""

    api_key_file: Path | None = None
    api_key: SecretStr | None = None
    status_map: dict[str, str] = Field(default_factory=lambda: {"Active": ONBOARDING_SUCCESSFUL})


def message(response: httpx.Response) -> str:
    """BambooHR's own words: the error header, else an RFC 7807 ``detail`` (datasets)."""
    for header in ("x-bamboohr-error-message", "x-bamboohr-message"):
        if response.headers.get(header):
            return str(response.headers[header])
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return response.text[:500]


def is_bamboohr(response: httpx.Response) -> bool:
    """Whether a refusal comes from BambooHR: its error header, or its Basic challenge (another
    server's 401 means a wrong host, not a wrong key)."""
    challenge = response.headers.get("www-authenticate", "").lower()
    return "x-bamboohr-error-message" in response.headers or challenge.startswith("basic")


def quoted(value: str) -> str:
    """A string literal of the dataset filter language (``''`` for a quote)."""
    return "'" + value.replace("'", "''") + "'"


class BambooHRSink(Sink):
    type = "bamboohr"
    capabilities = frozenset({Capability.CREATE, Capability.STATUS})
    settings_model = BambooHRSettings
    settings: BambooHRSettings
    # BambooHR takes any field name GET /api/v1/meta/fields lists (custom fields too).
    fields = None
    default_mapping = MAPPINGS / "bamboohr.toml"
    ascii_secret = True  # the user name of HTTP Basic auth

    def __init__(self, name: str, settings: Any, secret: SecretStr | None) -> None:
        super().__init__(name, settings, secret)
        key = secret_from(
            name,
            "api_key",
            common=secret,
            file=self.settings.api_key_file,
            value=self.settings.api_key,
            ascii=self.ascii_secret,
        )
        base = self.settings.base_url
        self._client = httpx.AsyncClient(
            # Paths are the spec's without their /api prefix, which the gateway form replaces.
            base_url=base if GATEWAY.search(base) else f"{base}/api",
            auth=(key.get_secret_value(), "x"),
            timeout=self.settings.timeout,
            headers={"accept": "application/json"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )

    async def close(self) -> None:
        await self._client.aclose()

    # ---- lookup -------------------------------------------------------------------------------
    async def _match(self, data: dict[str, Any]) -> Person | None:
        """The employee holding the mapped ``employeeNumber`` or ``workEmail``; the employee
        number wins when two rows answer. Raises Refused."""
        number, email = data.get("employeeNumber"), data.get("workEmail")
        terms = []
        if number:
            terms.append(f"employeeNumber eq {quoted(str(number))}")
        if email:
            terms.append(f"workEmail eq {quoted(str(email))}")
        body = {
            "fields": ["employeeId", "employeeNumber", "workEmail", "status"],
            "filter": " or ".join(terms),
            "page": 1,
            "pageSize": 10,
        }
        try:
            r = await self._client.post(DATASET, json=body)
        except httpx.TransportError as exc:
            raise Refused(unanswered(exc, sent_write=False)) from None
        if r.status_code != 200:
            o = refused(r, message(r))
            # A dataset query refused as malformed is syncd's problem, not the hire's: retried.
            raise Refused(o if o.kind != "rejected" else Outcome("retry", reason=o.reason))
        rows = [row.get("fields") or {} for row in r.json().get("data") or []]
        if not rows:
            return None
        rows.sort(key=lambda f: str(f.get("employeeNumber", "")).lower() != str(number).lower())
        found = rows[0]
        state = found.get("status") or None
        return Person(
            str(number or ""),
            target_id=str(found["employeeId"]),
            status=state,
            onboarding=self.settings.status_map.get(state) if state else None,
        )

    # ---- the sink interface ------------------------------------------------------------------
    async def create_or_match(self, delivery: Delivery) -> Outcome:
        data = present(delivery.data)
        if not data.get("employeeNumber") and not data.get("workEmail"):
            return Outcome(
                "rejected",
                reason="the mapping gives neither employeeNumber nor workEmail, so the person "
                "cannot be looked up before creating; map one of them",
            )
        try:
            found = await self._match(data)
        except Refused as exc:
            return exc.outcome
        if found is not None:
            return Outcome("accepted", target_id=found.target_id, reason="matched")
        try:
            r = await self._client.post("/v1/employees", json=data)
        except httpx.TransportError as exc:
            return unanswered(exc, sent_write=True)
        if r.status_code not in (200, 201):
            return refused(r, message(r))
        location = r.headers.get("location", "")
        target_id = location.rstrip("/").rsplit("/", 1)[-1] or None
        if target_id is None:  # created, but the id was not given: the lookup names it
            try:
                found = await self._match(data)
            except Refused:
                found = None
            target_id = found.target_id if found else None
        return Outcome("accepted", target_id=target_id, status_code=r.status_code)

    async def status(self, external_key: str, target_id: str | None) -> Person | None:
        if not target_id:
            return None
        try:
            r = await self._client.get(f"/v1/employees/{target_id}", params={"fields": "status"})
        except httpx.TransportError as exc:
            raise unavailable(unanswered(exc, sent_write=False), "employee status") from None
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise unavailable(refused(r, message(r)), "employee status")
        state = r.json().get("status")
        return Person(
            external_key,
            target_id=target_id,
            status=state,
            onboarding=self.settings.status_map.get(state) if state else None,
        )

    async def check(self) -> list[str]:
        """Tells apart: a host that is not BambooHR (unreachable, or no BambooHR API there), a
        key BambooHR refuses (401), and each permission the key's user lacks (403). Nothing is
        written: the create is probed with an empty body, which BambooHR refuses (400) once
        the permission is granted."""
        where = self.settings.base_url
        try:
            r = await self._client.get("/v1/meta/fields")
        except httpx.TransportError as exc:
            return [f"base_url: cannot reach {where} ({type(exc).__name__}); check the host"]
        if r.status_code == 401 and is_bamboohr(r):
            # Named where the key was given (a variable, a file's key), so the fix lands there.
            src = self.secret_origin
            given = f" from {src.setting}" if src else ""
            fix = src.fix() if src else "put it in api_key_file"
            return [
                f"api_key: BambooHR refuses the API key{given} (HTTP 401: {message(r)}); create "
                f"one under your name > API Keys and {fix}"
            ]
        if r.status_code != 200 or not isinstance(json_or_none(r), list):
            return [
                f"base_url: {where} does not answer as BambooHR (HTTP {r.status_code} for "
                "/api/v1/meta/fields); use https://COMPANY.bamboohr.com (or "
                "https://api.bamboohr.com/api/gateway.php/COMPANY)"
            ]
        probes = [
            Probe("report", "run the employee dataset (lookups)", "POST", DATASET,
                  {"json": {"fields": ["employeeId"],
                            "filter": "employeeNumber eq 'sr-syncd-check'"}}),
            Probe("employee", "read employees (status)", "GET", "/v1/employees/0?fields=status"),
            Probe("employee.write", "add employees", "POST", "/v1/employees", {"json": {}}),
        ]  # fmt: skip

        async def call(p: Probe) -> httpx.Response:
            return await self._client.request(p.method, p.path, **p.kwargs)

        return await permission_problems(
            # Printed with /api, which the client's base URL holds: the path as BambooHR names it.
            [dataclasses.replace(p, shown=f"/api{p.path}") for p in probes],
            call,
            message,
            who="the API key's user",
            fix="grant '{grant}' in the user's access level",
        )
