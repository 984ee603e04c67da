"""``type = "webhook"``: each event POSTed, signed per the Standard Webhooks specification
(standardwebhooks.com; the ``standardwebhooks`` package): headers ``webhook-id`` (the delivery's
stable id, the same on every retry: the receiver's idempotency key), ``webhook-timestamp``
(seconds, the attempt's time) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`` with the ``whsec_…`` secret). The body has the specification's payload
shape: ``{"type": "application.hired", "timestamp": "<the event's time>", "data": {…}}``.

Answers: 2xx accepted (a JSON ``id`` in the body is kept as the target's id); 401/403 auth
(alerted, retried); 408, 429 and 5xx, timeouts and connection errors retried (``Retry-After``
honoured); 409 and every other 4xx rejected, the body kept as the reason.

Status readback (optional): ``status_url`` is a template (``{external_key}``, ``{target_id}``)
answering JSON whose ``status`` maps through ``status_map`` to ONBOARDING_SUCCESSFUL or
ONBOARDING_FAILED; 404 means not there. With it the sink can also look a person up before
creating.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import Field, field_validator
from standardwebhooks import Webhook

from syncd.sinks.base import (
    Capability,
    Delivery,
    Outcome,
    Person,
    Sink,
    SinkError,
    SinkSettings,
    TargetUnavailable,
    check_status_map,
)


class WebhookSettings(SinkSettings):
    url: str
    status_url: str | None = None
    status_map: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url", "status_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("status_map")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        return check_status_map(v)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date; RFC 9110 section 10.2.3)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(response: httpx.Response) -> Outcome:
    """One target answer to an Outcome (the rules in the module docstring)."""
    code = response.status_code
    if 200 <= code < 300:
        target_id = None
        try:
            body = response.json()
            if isinstance(body, dict) and body.get("id") is not None:
                target_id = str(body["id"])
        except ValueError:
            pass
        return Outcome("accepted", target_id=target_id, status_code=code)
    if code in (401, 403):
        return Outcome("auth", reason=f"HTTP {code}: credentials refused", status_code=code)
    if code in (408, 429) or code >= 500:
        return Outcome(
            "retry", status_code=code, retry_after=retry_after(response), reason=f"HTTP {code}"
        )
    return Outcome("rejected", status_code=code, reason=response.text[:2000] or f"HTTP {code}")


class WebhookSink(Sink):
    type = "webhook"
    capabilities = frozenset(
        {Capability.CREATE, Capability.REVOKE, Capability.LOOKUP, Capability.STATUS}
    )
    settings_model = WebhookSettings
    settings: WebhookSettings
    ascii_secret = True

    def __init__(self, name: str, settings: Any, secret: Any) -> None:
        super().__init__(name, settings, secret)
        if secret is None:
            raise SinkError("secret_file is required: a file holding the whsec_… signing secret")
        raw = secret.get_secret_value()
        if not raw.startswith("whsec_"):
            raise SinkError("secret_file: the secret must start with whsec_ (Standard Webhooks)")
        try:
            self._webhook = Webhook(raw)
        except Exception:
            raise SinkError("secret_file: whsec_ must be followed by base64") from None
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout,
            headers=self.settings.headers,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    def capabilities_now(self) -> frozenset[Capability]:
        if self.settings.status_url:
            return self.capabilities
        return self.capabilities - {Capability.LOOKUP, Capability.STATUS}

    async def close(self) -> None:
        await self._client.aclose()

    def signed(self, delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt (the signature covers this attempt's time)."""
        stamp = (
            delivery.timestamp.replace(tzinfo=UTC)
            if delivery.timestamp.tzinfo is None
            else delivery.timestamp
        )
        body = orjson.dumps(
            {
                "type": delivery.event_type,
                "timestamp": stamp.isoformat().replace("+00:00", "Z"),
                "data": delivery.data,
            }
        )
        now = datetime.now(UTC)
        signature = self._webhook.sign(delivery.delivery_id, now, body.decode())
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        return body, headers

    async def _post(self, delivery: Delivery) -> Outcome:
        body, headers = self.signed(delivery)
        try:
            response = await self._client.post(self.settings.url, content=body, headers=headers)
        except httpx.ConnectError as exc:
            return Outcome("retry", reason=f"cannot connect ({type(exc).__name__})")
        except httpx.TransportError as exc:
            # Sent, no answer: the receiver may have it. The same webhook-id goes again.
            return Outcome("retry", reason=f"no answer ({type(exc).__name__})", unknown=True)
        return classify(response)

    async def create_or_match(self, delivery: Delivery) -> Outcome:
        return await self._post(delivery)

    async def revoke(self, delivery: Delivery) -> Outcome:
        return await self._post(delivery)

    async def lookup(self, external_key: str) -> Person | None:
        return await self.status(external_key, None)

    async def status(self, external_key: str, target_id: str | None) -> Person | None:
        template = self.settings.status_url
        if not template:
            return None
        url = template.format(external_key=external_key, target_id=target_id or "")
        try:
            response = await self._client.get(url)
        except httpx.TransportError as exc:
            raise TargetUnavailable(f"status_url: no answer ({type(exc).__name__})") from None
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise TargetUnavailable(
                f"status_url: HTTP {response.status_code}", retry_after=retry_after(response)
            )
        try:
            body = response.json()
        except ValueError:
            raise TargetUnavailable("status_url: the answer is not JSON") from None
        state = body.get("status") if isinstance(body, dict) else None
        tid = body.get("id") if isinstance(body, dict) else None
        return Person(
            external_key,
            target_id=str(tid) if tid is not None else target_id,
            status=str(state) if state is not None else None,
            onboarding=self.settings.status_map.get(str(state)) if state is not None else None,
        )

    async def check(self) -> list[str]:
        problems = []
        try:
            r = await self._client.head(self.settings.url)
            if r.status_code in (401, 403):
                problems.append(f"url: the receiver refuses the credentials (HTTP {r.status_code})")
        except httpx.TransportError as exc:
            problems.append(f"url: unreachable ({type(exc).__name__}); check the host and port")
        if self.settings.status_url:
            try:
                await self.status("sr-syncd-check", None)
            except TargetUnavailable as exc:
                problems.append(str(exc))
        return problems
