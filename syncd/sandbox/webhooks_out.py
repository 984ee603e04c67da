"""Outgoing webhooks: the activation handshake and signed deliveries with redeliveries.

One ``WebhookEngine`` per sandbox. It listens to the tenant's events (``Tenant.emit``) and, for
each active subscription to that event, POSTs the ids-only payload to the callback URL from an
asyncio task in the sandbox's own event loop. A delivery succeeds on ``202`` within the delivery
timeout (5 s); otherwise it is redelivered on the documented backoff schedule, counted in sandbox
time (the tenant's clock, which ``/_sandbox/clock`` can advance), with the same ``event-id``.
Every attempt lands in the subscription's callbacks log.

Tests drive retries deterministically through ``flush`` (``POST /_sandbox/webhooks/flush``) and
can shrink the schedule with ``retry_scale`` instead of waiting for it.

Subscriptions themselves live in ``Tenant.subscriptions`` so that ``/_sandbox/reset`` drops them
with the rest of the tenant; the engine keeps deliveries, tasks and settings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import ssl
import uuid
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from syncd.sandbox import signature
from syncd.sandbox.errors import ApiError
from syncd.sandbox.jsonresp import dumps
from syncd.sandbox.paging import OrderIndex
from syncd.sandbox.state import Tenant
from syncd.sandbox.timefmt import iso

if TYPE_CHECKING:
    from syncd.sandbox.server import Sandbox

log = logging.getLogger("syncd.sandbox.webhooks")

EVENT_NAMES: tuple[str, ...] = (
    "job.created",
    "job.updated",
    "job.status.updated",
    "job.hiring-team.updated",
    "job.ad.created",
    "job.ad.updated",
    "job.ad.postings.updated",
    "position.created",
    "position.updated",
    "position.deleted",
    "application.created",
    "application.status.updated",
    "application.fields.updated",
    "application.onboarding-status.updated",
    "application.attachment.created",
    "application.source.updated",
    "candidate.created",
    "candidate.updated",
    "candidate.deleted",
    "offer.created",
    "offer.updated",
    "offer.approval.created",
    "offer.approval.approved",
    "offer.approval.rejected",
    "offer.approval.abandoned",
    "offer.approval.step.approved",
    "offer.approval.step.rejected",
    "offer.approver.skipped",
    "offer.approver.delegated",
    "offer.approval.comment.created",
    "job.approval.created",
    "job.approval.approved",
    "job.approval.rejected",
    "job.approval.abandoned",
    "job.approval.step.approved",
    "job.approval.step.rejected",
    "job.approver.skipped",
    "job.approver.delegated",
    "job.approval.comment.created",
    "review.created",
    "review.updated",
    "review.deleted",
    "application.screening-answers.created",
    "application.screening-answers.updated",
    "onboarding.process.started",
    "onboarding.assignments.high-priority.completed",
    "onboarding.assignments.completed",
)
# The version the documentation's worked example carries.
EVENT_VERSION = "v201910"
# Redeliveries after the first attempt, in minutes. The documentation names 1, 3, 10, 45, 120 and
# 1440 and "up to 10"; the steps in between are the sandbox's choice.
SCHEDULE_MINUTES: tuple[int, ...] = (1, 3, 10, 45, 120, 240, 480, 720, 1080, 1440)
KEY_GRACE_SECONDS = 24 * 3600
MAX_KEYS = 16
MAX_SUBSCRIPTIONS = 20
# Events about deleted things have no resource to link to (the spec's callbacks omit Link).
NO_LINK = frozenset({"candidate.deleted", "position.deleted"})
LOG_CAP = 5000
DELIVERIES_CAP = 10000
REDACTED = "<redacted>"


@dataclass
class WebhookSettings:
    retry_scale: float = 1.0
    delivery_timeout: float = 5.0
    handshake_timeout: float = 20.0
    auto_retry: bool = True
    concurrency: int = 4

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            "retryScale": d["retry_scale"],
            "deliveryTimeoutSeconds": d["delivery_timeout"],
            "handshakeTimeoutSeconds": d["handshake_timeout"],
            "autoRetry": d["auto_retry"],
            "concurrencyPerSubscription": d["concurrency"],
            "scheduleMinutes": list(SCHEDULE_MINUTES),
        }


@dataclass
class Delivery:
    event_id: str
    subscription_id: str
    event_name: str
    body: bytes
    link: str
    created_at: float
    attempts: list[dict[str, Any]] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed (redeliveries exhausted) | cancelled
    next_due: float | None = None
    in_flight: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "subscriptionId": self.subscription_id,
            "eventName": self.event_name,
            "link": self.link,
            "body": self.body.decode(),
            "state": self.state,
            "attempts": self.attempts,
            "nextAttemptAt": iso(self.next_due) if self.next_due is not None else None,
        }


def link_for(event_name: str, payload: dict[str, Any], base: str) -> str:
    """The ``Link`` header of a delivery: the resource the event is about, ``rel=self``.
    Job and candidate payloads carry ``id`` (the spec's JobWebhookPayload and
    CandidateWebhookPayload); ``job_id``/``candidate_id`` are accepted too."""
    if event_name in NO_LINK:
        return ""
    p = {k: str(v) for k, v in payload.items()}
    kind = event_name.split(".", 1)[0]
    path = ""
    if "approval_id" in p:
        path = f"/approvals-api/v201910/approvals/{p['approval_id']}"
    elif kind == "offer" and {"offer_id", "candidate_id", "job_id"} <= p.keys():
        path = f"/candidates/{p['candidate_id']}/jobs/{p['job_id']}/offers/{p['offer_id']}"
    elif kind == "application" and {"candidate_id", "job_id"} <= p.keys():
        path = f"/candidates/{p['candidate_id']}/jobs/{p['job_id']}"
    elif kind == "candidate" and (cid := p.get("id") or p.get("candidate_id")):
        path = f"/candidates/{cid}"
    elif kind == "position" and {"position_id", "job_id"} <= p.keys():
        path = f"/jobs/{p['job_id']}/positions/{p['position_id']}"
    elif kind == "job" and "job_ad_id" in p and "job_id" in p:
        path = f"/jobs/{p['job_id']}/jobads/{p['job_ad_id']}"
    elif kind == "job" and (jid := p.get("id") or p.get("job_id")):
        path = f"/jobs/{jid}"
    return f"<{base}{path}>; rel=self" if path else ""


_ssl_context: ssl.SSLContext | None = None


def _client(timeout: float) -> httpx.AsyncClient:
    """A client per attempt keeps nothing open between deliveries; sharing the SSL context keeps
    that cheap (building one costs ~40 ms, the client alone ~0.2 ms)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return httpx.AsyncClient(timeout=timeout, verify=_ssl_context, follow_redirects=False)


def handshake_failed(message: str) -> ApiError:
    return ApiError(424, "WEBHOOK_HANDSHAKE_FAILED", message)


class WebhookEngine:
    def __init__(self) -> None:
        self.settings = WebhookSettings()
        self.deliveries: OrderedDict[str, Delivery] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.base_url = "http://127.0.0.1"
        self.generation = 0
        self._scheduler: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._oauth_tokens: dict[str, tuple[str, float]] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self.tenant: Tenant | None = None
        self.order: OrderIndex[dict[str, Any]] = OrderIndex({})

    # ---- lifecycle -------------------------------------------------------------------------
    def attach(self, tenant: Tenant) -> None:
        """Start over with a (new) tenant: forget deliveries, stop in-flight attempts."""
        self.generation += 1
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        if self._scheduler is not None:
            self._scheduler.cancel()
            self._scheduler = None
        self.deliveries.clear()
        self._oauth_tokens.clear()
        self._slots.clear()
        self.settings = WebhookSettings()
        self.tenant = tenant
        self.order = OrderIndex(tenant.subscriptions)
        self.order.keys.extend(tenant.subscriptions)
        if self.on_event not in tenant.listeners:
            tenant.listeners.append(self.on_event)

    @property
    def t(self) -> Tenant:
        assert self.tenant is not None
        return self.tenant

    def now(self) -> float:
        return self.t.clock.now()

    def bind_loop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()

    # ---- subscriptions -----------------------------------------------------------------------
    def owned(self, owner: str) -> list[dict[str, Any]]:
        return [s for s in self.t.subscriptions.values() if s["owner"] == owner]

    def create(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        if len(self.owned(owner)) >= MAX_SUBSCRIPTIONS:
            raise ApiError(
                403,
                "SUBSCRIPTIONS_LIMIT_EXCEEDED",
                f"A subscriber can register at most {MAX_SUBSCRIPTIONS} subscriptions; "
                "delete one first",
            )
        sub: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "callbackUrl": body["callbackUrl"],
            "events": list(body["events"]),
            "status": "inactive",
            "owner": owner,
            "createdOn": self.t.now(),
            "keys": [],
            "log": [],
            "logDropped": 0,
        }
        for opt in ("alertingEmailAddress", "callbackAuthentication"):
            if body.get(opt) is not None:
                sub[opt] = body[opt]
        self.t.subscriptions[sub["id"]] = sub
        self.order.append(sub["id"])
        return sub

    def delete(self, sub: dict[str, Any]) -> None:
        del self.t.subscriptions[sub["id"]]
        self._oauth_tokens.pop(sub["id"], None)
        for d in self.deliveries.values():
            if d.subscription_id == sub["id"] and d.state == "pending":
                d.state, d.next_due = "cancelled", None

    def valid_keys(self, sub: dict[str, Any]) -> list[str]:
        """Keys that sign deliveries now, newest first."""
        now = self.now()
        return [
            k["key"]
            for k in reversed(sub["keys"])
            if k["expiresAt"] is None or k["expiresAt"] > now
        ]

    def new_key(self, sub: dict[str, Any]) -> str:
        now = self.now()
        if len(self.valid_keys(sub)) >= MAX_KEYS:
            raise ApiError(
                403,
                "SECRET_KEYS_LIMIT_EXCEEDED",
                f"A subscription can hold at most {MAX_KEYS} unexpired secret keys",
            )
        for k in sub["keys"]:
            if k["expiresAt"] is None:
                k["expiresAt"] = now + KEY_GRACE_SECONDS
        key = secrets.token_urlsafe(24)
        sub["keys"].append({"key": key, "createdAt": now, "expiresAt": None})
        return key

    # ---- outgoing requests -----------------------------------------------------------------
    async def _auth_headers(self, sub: dict[str, Any], client: httpx.AsyncClient) -> dict[str, str]:
        auth = sub.get("callbackAuthentication")
        if not auth:
            return {}
        if auth["type"] == "basic":
            raw = f"{auth['username']}:{auth['password']}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if auth["type"] == "header":
            return {auth["headerName"]: auth["headerValue"]}
        cached = self._oauth_tokens.get(sub["id"])
        if cached is None or cached[1] <= self.now():
            r = await client.post(
                auth["tokenServiceUrl"],
                data={
                    "client_id": auth["clientId"],
                    "client_secret": auth["clientSecret"],
                    "grant_type": "client_credentials",
                },
            )
            if r.status_code != 200:
                raise httpx.HTTPError(f"OAuth2 token service answered HTTP {r.status_code}")
            try:
                tok = r.json()
                token = str(tok["access_token"])
                # The documentation gives expires_in in milliseconds.
                expires = self.now() + float(tok.get("expires_in", 60000)) / 1000.0
            except (ValueError, KeyError, TypeError):
                raise httpx.HTTPError(
                    "OAuth2 token service answered without access_token"
                ) from None
            cached = (token, expires)
            self._oauth_tokens[sub["id"]] = cached
        return {"Authorization": f"Bearer {cached[0]}"}

    def _redacted(self, sub: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
        auth = sub.get("callbackAuthentication") or {}
        hidden = {"authorization", str(auth.get("headerName", "")).lower()}
        return {k: (REDACTED if k.lower() in hidden else v) for k, v in headers.items()}

    async def handshake(self, sub: dict[str, Any]) -> None:
        """PUT …/activation: POST ``X-Hook-Secret`` to the callback; expect 200 echoing it."""
        self.bind_loop()
        if sub["status"] == "active":
            raise ApiError(409, "SUBSCRIPTION_ALREADY_ACTIVE", "Subscription is already active")
        secret = secrets.token_hex(16)
        timeout = self.settings.handshake_timeout
        try:
            async with _client(timeout) as client:
                headers = {"X-Hook-Secret": secret, **await self._auth_headers(sub, client)}
                r = await client.post(sub["callbackUrl"], headers=headers)
        except httpx.TimeoutException:
            raise handshake_failed(
                f"The callback URL did not answer the handshake within {timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise handshake_failed(
                f"The callback URL could not be reached for the handshake ({type(exc).__name__})"
            ) from None
        if r.status_code != 200:
            raise handshake_failed(
                f"The callback URL answered the handshake with HTTP {r.status_code}; expected 200"
            )
        echoed = r.headers.get("X-Hook-Secret")
        if echoed is None:
            raise handshake_failed("The handshake answer did not echo the X-Hook-Secret header")
        if not secrets.compare_digest(echoed, secret):
            raise handshake_failed("The handshake answer echoed a different X-Hook-Secret value")
        sub["status"] = "active"

    # ---- deliveries ------------------------------------------------------------------------
    def on_event(self, event_name: str, payload: dict[str, Any]) -> None:
        subs = [
            s
            for s in self.t.subscriptions.values()
            if s["status"] == "active" and event_name in s["events"]
        ]
        if not subs:
            return
        body = dumps(payload)
        link = link_for(event_name, payload, self.base_url)
        now = self.now()
        for sub in subs:
            d = Delivery(str(uuid.uuid4()), sub["id"], event_name, body, link, now, next_due=now)
            self.deliveries[d.event_id] = d
            self._trim()
            self._start(d)

    def _trim(self) -> None:
        while len(self.deliveries) > DELIVERIES_CAP:
            oldest = next(iter(self.deliveries.values()))
            if oldest.state == "pending":
                break  # never forget work still to do
            self.deliveries.popitem(last=False)

    def _start(self, d: Delivery) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and (self.loop is None or running is self.loop):
            self.loop = running
            self._spawn(d)
        elif self.loop is not None and not self.loop.is_closed():
            # A change made from another thread (a test poking the tenant directly).
            self.loop.call_soon_threadsafe(self._spawn, d)
        # Otherwise it stays pending and due; the next flush sends it.

    def _spawn(self, d: Delivery) -> None:
        if d.in_flight or d.state != "pending":
            return
        d.in_flight = True
        task = asyncio.get_running_loop().create_task(self._attempt(d, self.generation))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _attempt(self, d: Delivery, generation: int) -> None:
        # A few attempts at a time per subscription: a burst of events must not open hundreds
        # of connections to one receiver at once (small servers refuse or reset them).
        slot = self._slots.get(d.subscription_id)
        if slot is None:
            slot = self._slots[d.subscription_id] = asyncio.Semaphore(
                max(1, self.settings.concurrency)
            )
        try:
            async with slot:
                await self._send(d, generation)
        finally:
            d.in_flight = False

    async def _send(self, d: Delivery, generation: int) -> None:
        sub = self.t.subscriptions.get(d.subscription_id)
        if sub is None or sub["status"] != "active":
            d.state, d.next_due = "cancelled", None
            return
        number = len(d.attempts) + 1
        sent_at = self.now()
        headers = {
            "content-type": "application/json",
            "event-name": d.event_name,
            "event-version": EVENT_VERSION,
            "event-id": d.event_id,
            "smartrecruiters-timestamp": str(int(sent_at)),
        }
        if d.link:
            headers["link"] = d.link
        keys = self.valid_keys(sub)
        if keys:
            headers["smartrecruiters-signature"] = signature.signature_header(
                keys,
                timestamp=headers["smartrecruiters-timestamp"],
                body=d.body,
                event_id=d.event_id,
                event_name=d.event_name,
                event_version=EVENT_VERSION,
                link=d.link,
            )
        status_code: int | None = None
        error: str | None = None
        auth: dict[str, str] = {}
        timeout = self.settings.delivery_timeout
        try:
            async with _client(timeout) as client:
                auth = await self._auth_headers(sub, client)
                r = await client.post(
                    sub["callbackUrl"], content=d.body, headers={**headers, **auth}
                )
            status_code = r.status_code
            if status_code != 202:
                error = f"answered HTTP {status_code}; expected 202"
        except httpx.TimeoutException:
            error = f"no answer within {timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if generation != self.generation:
            return  # the tenant was reset while the request was out
        ok = error is None
        self._record(sub, d, number, sent_at, ok, status_code, error, {**headers, **auth})

    def _record(
        self,
        sub: dict[str, Any],
        d: Delivery,
        number: int,
        sent_at: float,
        ok: bool,
        status_code: int | None,
        error: str | None,
        headers: dict[str, str],
    ) -> None:
        at = iso(sent_at)
        d.attempts.append(
            {"number": number, "at": at, "ok": ok, "statusCode": status_code, "error": error}
        )
        if ok:
            d.state, d.next_due = "delivered", None
        elif number <= len(SCHEDULE_MINUTES):
            delay = SCHEDULE_MINUTES[number - 1] * 60 * self.settings.retry_scale
            # Counted from the attempt (its send time, the attempt's "at"), not from when its
            # answer or timeout came back, so the schedule does not drift with slow callbacks.
            d.next_due = sent_at + delay
            self._ensure_scheduler()
        else:
            d.state, d.next_due = "failed", None
            log.warning(
                "webhook_redeliveries_exhausted",
                extra={"subscription_id": sub["id"], "event_id": d.event_id},
            )
        entry = {
            "status": "successful" if ok else "failed",
            "timestamp": at,
            "requestDetails": {
                "url": sub["callbackUrl"],
                "body": d.body.decode(),
                "headers": self._redacted(sub, headers),
            },
            # Sandbox extension: what came back, and which attempt this was.
            "responseDetails": {"statusCode": status_code, "error": error},
            "attempt": number,
        }
        sub["log"].append(entry)
        if len(sub["log"]) > LOG_CAP:
            drop = len(sub["log"]) - LOG_CAP
            del sub["log"][:drop]
            sub["logDropped"] += drop

    # ---- redeliveries ----------------------------------------------------------------------
    def _waiting(self) -> list[Delivery]:
        return [
            d
            for d in self.deliveries.values()
            if d.state == "pending" and not d.in_flight and d.next_due is not None
        ]

    def _ensure_scheduler(self) -> None:
        if not self.settings.auto_retry:
            return
        if self._wake is not None:
            self._wake.set()
        if self._scheduler is None or self._scheduler.done():
            self._wake = asyncio.Event()
            self._scheduler = asyncio.get_running_loop().create_task(self._schedule())

    async def _schedule(self) -> None:
        """Send redeliveries when they fall due in sandbox time. Wakes at least once a second,
        so an advanced clock is noticed; exits when nothing waits."""
        assert self._wake is not None
        while self.settings.auto_retry:
            waiting = self._waiting()
            if not waiting:
                return
            now = self.now()
            later: list[float] = []
            for d in waiting:
                if d.next_due is not None and d.next_due <= now:
                    self._spawn(d)
                elif d.next_due is not None:
                    later.append(d.next_due)
            pause = min([*(x - now for x in later), 1.0])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(pause, 0.01))
            self._wake.clear()

    async def flush(self, retries: str = "due") -> dict[str, Any]:
        """Finish every attempt in flight, then send what is due (``retries="due"``), every
        waiting redelivery at once (``"all"``) or nothing more (``"none"``), and wait for those
        too. Deterministic: returns only when no attempt is in flight."""
        self.bind_loop()
        started = 0
        await self._drain()
        if retries != "none":
            now = self.now()
            for d in self._waiting():
                if retries == "all" or (d.next_due is not None and d.next_due <= now):
                    self._spawn(d)
                    started += 1
            await self._drain()
        return {"started": started, **self.counts()}

    async def _drain(self) -> None:
        # Attempts can start attempts (the scheduler), so loop until none is left.
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def counts(self) -> dict[str, int]:
        out = {"pending": 0, "delivered": 0, "failed": 0, "cancelled": 0}
        for d in self.deliveries.values():
            out[d.state] = out.get(d.state, 0) + 1
        return out


_engines: weakref.WeakKeyDictionary[Sandbox, WebhookEngine] = weakref.WeakKeyDictionary()


def install(sandbox: Sandbox) -> None:
    """Reset hook: (re)attach the sandbox's engine to its current tenant."""
    engine = _engines.get(sandbox)
    if engine is None:
        engine = _engines[sandbox] = WebhookEngine()
    engine.attach(sandbox.tenant)


def engine_of(sandbox: Sandbox) -> WebhookEngine:
    engine = _engines.get(sandbox)
    if engine is None or engine.tenant is not sandbox.tenant:
        install(sandbox)
        engine = _engines[sandbox]
    return engine


def register() -> None:
    """Hook the engine into every sandbox's start and reset."""
    from syncd.sandbox.server import Sandbox

    if install not in Sandbox.reset_hooks:
        Sandbox.reset_hooks.append(install)
