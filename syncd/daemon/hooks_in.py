"""SmartRecruiters webhooks into ``syncd run`` (``POST /webhooks/smartrecruiters``).

- **Handshake**: a request with ``X-Hook-Secret`` is answered ``200`` with the same header
  (SmartRecruiters' activation, docs/webhooks.md "Activation handshake").
- **Signature**: ``smartrecruiters-signature`` (``v1``, HMAC-SHA256 over
  timestamp.body.event-id.event-name.event-version.link) must match one of
  ``webhooks.secret_keys``; ``smartrecruiters-timestamp`` must be within
  ``webhooks.tolerance_seconds`` of now (stale); an ``event-id`` accepted before is refused
  (replayed). Refusals answer ``401`` (bad or stale signature) or ``409`` (replayed), counted by
  reason; nothing of a refused body is read or logged.
- **Fast answer, kept**: an accepted callback is stored in ``webhook_inbox``
  (``syncd.mirror.inbox``: event name, resource and id) and answered ``202`` at once
  (SmartRecruiters wants an answer within 5 s); the leader's drainer, woken in-process, reads
  the named records by id through the catalogue's get-by-id (``syncd.sync.refresh.Refresher``),
  writes them as a pass does, marks the callbacks done in that same transaction and asks for a
  push. A leader killed after its ``202`` leaves the callback waiting for its restart or the next
  leader (at-least-once). Polling stays the safety net: a callback lost or refused is caught by
  the next pass.
- **Keys**: ``webhooks.secret_keys`` when set; else the daemon reads the signing key of every
  subscription to ``webhooks.callback_url`` from the Webhooks API (at start, and again when a
  callback fails verification): ``syncd webhooks subscribe`` then needs no key to be copied
  anywhere. Those reads are rate-limited whatever asks for them (``KeyReloads``: a burst of
  ``KEY_RELOAD_BURST``, then one every ``KEY_RELOAD_SECONDS``): an unsigned request or a
  handshake, which anyone reaching the endpoint can send, never spends more of the tenant's API
  budget than that. Nothing else an unauthenticated request can do calls the API.
- **Webhook inbox** (every replica, SQLite and PostgreSQL alike): a replica that does not
  lead the callback's tenant (PostgreSQL) verifies it as the leader would and stores it the same
  way; the leader, woken by ``NOTIFY`` (and looking every ``INBOX_POLL_SECONDS`` besides),
  drains it as its own. The replay record is the inbox's primary key, so a delivery replayed to
  another replica, or to a restarted daemon, is refused too. SQLite: an accept waits at most
  ``ACCEPT_WAIT_SECONDS`` for the file's write lock (a pass's write group may hold it); past
  that the callback is answered all the same and refreshed from memory (reason ``unstored``),
  as every callback was before the inbox kept the leader's own.
- **Header-safe**: a signing key read from the API that is not visible ASCII
  (``syncd.config.HEADER_SAFE_RULE``) is left out (``webhook_key_refused``, naming its
  subscription); a handshake whose ``X-Hook-Secret`` is not is answered ``400``
  (``bad_handshake``) and not echoed. Configured keys are checked with the settings.
- **Bodies** (``read_body``): a signed callback of an event syncd mirrors whose body is not a
  UTF-8 JSON object holding the ids syncd reads its record by is answered ``400``
  (``bad_body``, one warning naming the event and what is wrong, never the body);
  SmartRecruiters redelivers it up to 10 times all the same (any answer but 202), each refused
  alike. Events syncd does not mirror are answered ``202`` (``ignored``), their bodies unread.
- A stopping daemon answers ``503``: SmartRecruiters delivers again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.ats import absent_ok
from syncd.config import HEADER_SAFE_RULE, header_safe
from syncd.mirror import inbox
from syncd.mirror.db import describe_db_error
from syncd.mirror.schema import ID as ID_PART_MAX
from syncd.sandbox.signature import parse_timestamp, verify_request

log = structlog.get_logger("syncd.daemon")

PATH = "/webhooks/smartrecruiters"
KEY_RELOAD_SECONDS = 10.0
# Reads allowed at once before the rate applies: the read at start plus one more, so a
# subscription made right after start (``syncd webhooks subscribe``) has its key read at its
# first callback instead of that callback being refused for up to KEY_RELOAD_SECONDS.
KEY_RELOAD_BURST = 2
# Callback bodies hold ids only (docs/webhooks.md, "Deliveries"): anything larger is refused
# before it is read whole.
MAX_BODY_BYTES = 64 * 1024
# The leader looks at the inbox this often besides its notifications (a NOTIFY lost while the
# listener reconnects waits at most this long).
INBOX_POLL_SECONDS = 2.0
INBOX_BATCH = 500  # callbacks drained at once (one refresh per resource among them)
INBOX_RETRY_SECONDS = 15.0  # after a failed drain (API or database away), before the next
INBOX_PRUNE_SECONDS = 60.0  # how often done rows older than the replay window are deleted
# A callback still waiting this long (or 3 poll intervals, if longer) is given up: its record's
# refresh keeps failing, and the pull passes have read the change since.
INBOX_GIVE_UP_SECONDS = 3600.0
# SQLite: the longest an accept waits for the file's write lock (a pass's write group holds it
# up to passes.GROUP_SECONDS), leaving time to answer within SmartRecruiters' 5 s.
ACCEPT_WAIT_SECONDS = 2.5

# event-name prefix -> (refreshable resource, the body's ids that build its id: the first
# alternative the body has). The first matching prefix wins. Bodies as docs/webhooks.md lists.
_TARGETS: tuple[tuple[str, str, tuple[tuple[str, ...], ...]], ...] = (
    ("candidate.", "candidates", (("id",),)),
    ("application.", "applications", (("candidate_id", "job_id"),)),
    ("offer.approval.", "offer_approvals", (("offer_id",),)),
    ("offer.approver.", "offer_approvals", (("offer_id",),)),
    ("offer.", "offers", (("candidate_id", "job_id", "offer_id"),)),
    ("job.approval.", "job_approvals", (("job_id",), ("id",))),
    ("job.approver.", "job_approvals", (("job_id",), ("id",))),
    ("job.", "jobs", (("id",), ("job_id",))),  # job ads carry {job_id, job_ad_id}
    ("position.", "positions", (("job_id",),)),
)


class BadBody(ValueError):
    """A signed callback of an event syncd mirrors whose body cannot name a record. The message
    says what is wrong (not UTF-8, not JSON, not an object, which id is missing or not a
    string), never the body's content."""


def _describe(value: Any) -> str:
    """The JSON type of ``value``, never the value (a refusal never echoes what it refused)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    return "an array" if isinstance(value, list) else "an object"


def read_body(event_name: str, body: bytes) -> tuple[str, str] | None:
    """(resource, id) that a signed callback names; None for an event syncd does not mirror
    (its body is not read). Raises ``BadBody`` for an event syncd mirrors whose body is not
    UTF-8 JSON, not an object, or lacks one of the ids syncd reads the record by (each a
    non-empty string). Those ids are the ones the spec's payload schemas mark required
    (docs/webhooks.md "Deliveries"; ``ApplicationWebhookPayload`` & co.); the others a schema
    requires (``application_id``, ``approval_id``, ``position_id``, ``job_ad_id``) are not
    checked, as syncd does not use them."""
    alternatives = next((alt for prefix, _, alt in _TARGETS if event_name.startswith(prefix)), None)
    if alternatives is None:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("the body is not UTF-8") from None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadBody("the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise BadBody(f"the body is {_describe(parsed)}, not a JSON object")
    target = target_of(event_name, parsed)
    if target is not None:
        return target
    # Named after the first alternative the body has a key of (else the schema's own).
    parts = next((p for p in alternatives if any(k in parsed for k in p)), alternatives[0])
    for part in parts:
        if part not in parsed:
            raise BadBody(f"the body has no {part} (a non-empty string)")
        value = parsed[part]
        if not (isinstance(value, str) and value):
            raise BadBody(f"the body's {part} is {_describe(value)}, not a non-empty string")
    raise BadBody("the body has none of the ids its event names")  # not reached


def target_of(event_name: str, body: Any) -> tuple[str, str] | None:
    """(resource, id) that a callback names, or None for an event syncd does not mirror (or a
    body without the ids its event's schema has)."""
    if not isinstance(body, dict):
        return None
    for prefix, resource, alternatives in _TARGETS:
        if not event_name.startswith(prefix):
            continue
        for parts in alternatives:
            values = [body.get(p) for p in parts]
            if all(isinstance(v, str) and v for v in values):
                return resource, "/".join(str(v) for v in values)
        return None
    return None


def id_problem(resource: str, ident: str) -> str | None:
    """None when ``ident`` can name a ``resource`` record (the form of its get-by-id,
    ``syncd.sync.catalogue.GetById.check_id``, each part at most the mirror's id column,
    ``schema.ID`` characters), else what is wrong, without the id itself (a refusal never echoes
    what it refused)."""
    from syncd.sync.catalogue import refreshable

    get = refreshable()[resource][2]
    if get.check_id(ident) is not None:
        return f"the body's id for {resource} is not of the form {get.id_form}"
    if any(len(part) > ID_PART_MAX for part in ident.split("/")):
        return f"the body's id for {resource} has a part over {ID_PART_MAX} characters"
    return None


def _refreshable_names() -> set[str]:
    from syncd.sync.catalogue import refreshable

    return set(refreshable())


class SeenEvents:
    """event-ids accepted in the last ``keep`` seconds (a replay older than that fails the
    timestamp check anyway)."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self.ids: OrderedDict[str, float] = OrderedDict()

    def seen(self, event_id: str) -> bool:
        now = time.monotonic()
        while self.ids and next(iter(self.ids.values())) < now - self.keep:
            self.ids.popitem(last=False)
        return event_id in self.ids

    def add(self, event_id: str) -> None:
        self.ids[event_id] = time.monotonic()


class KeyReloads:
    """A token bucket over the key reads: ``burst`` at once, then one per ``every`` seconds
    (monotonic clock). Nothing resets it: not a handshake, not a failed read."""

    def __init__(self, every: float = KEY_RELOAD_SECONDS, burst: int = KEY_RELOAD_BURST) -> None:
        self.every = every
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        """True (and one read spent) when a read is allowed now."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) / self.every)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class HookIntake:
    """The endpoint and its worker. ``daemon`` is a ``syncd.daemon.service.Daemon``."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        hooks = daemon.settings.webhooks
        self.keys = [k.get_secret_value() for k in hooks.secret_keys]
        self.fixed_keys = bool(self.keys)
        self.callback_url = hooks.callback_url
        self.keys_loaded_at = 0.0
        self.keys_lock = asyncio.Lock()
        self.reloads = KeyReloads()
        self.tolerance = hooks.tolerance_seconds
        self.seen = SeenEvents(keep=2 * self.tolerance)
        # Callbacks SQLite's write lock kept out of the inbox (InboxBusy): refreshed from here.
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.refreshed = 0  # records refreshed (tests and logs)
        # PostgreSQL: the replicas share the replay record and the inbox (syncd.mirror.inbox);
        # a replica that does not lead a tenant takes its callbacks for the leader.
        self.shared = daemon.db.dialect.name == "postgresql"
        self.woken = asyncio.Event()
        self.urgent = False  # a callback of this leader's own waits: drain past retry_at
        self.pruner: asyncio.Task[None] | None = None
        self.drainer: asyncio.Task[None] | None = None
        self.retry_at = 0.0
        self.pruned_at = 0.0

    def warn_without_keys(self) -> None:
        """At start: one warning when every callback can only be refused (``no_keys``): no
        signing keys configured and no callback URL whose subscriptions' keys could be read.
        Polling still finds every change; the warning names the settings that turn webhooks
        on (this tenant's variables under ``[tenants]``)."""
        if self.fixed_keys or self.callback_url is not None:
            return
        s = self.daemon.settings
        url, keys = s.variable("WEBHOOKS__CALLBACK_URL"), s.variable("WEBHOOKS__SECRET_KEYS")
        log.warning(
            "webhooks_without_keys",
            path=s.webhook_path(),
            reason="no signing keys and no callback URL: every callback is refused (no_keys); "
            "polling still finds every change",
            fix=f"set {url} (then `syncd webhooks subscribe`: the keys are read from the "
            f"subscription) or {keys}",
        )

    async def load_keys(self) -> None:
        """The signing keys of the subscriptions to ``callback_url`` (newest key of each), when
        ``self.reloads`` allows a read now; else the keys stay as they are."""
        if self.fixed_keys or self.callback_url is None:
            return
        asked_at = time.monotonic()
        async with self.keys_lock:
            if self.keys_loaded_at > asked_at:
                return  # another callback read them while this one waited
            if not self.reloads.take():
                return
            await self._read_keys(self.callback_url)

    async def _read_keys(self, callback_url: str) -> None:
        sr = self.daemon.sr
        keys: list[str] = []
        try:
            async for page in sr.webhooks.pages():
                for sub in page.items:
                    if sub.get("callbackUrl") != callback_url:
                        continue
                    body = await absent_ok(sr.webhooks.secret_key(str(sub["id"])))
                    if isinstance(body, dict) and body.get("secretKey"):
                        key = str(body["secretKey"])
                        if not header_safe(key):
                            # Named by its subscription, never by what it holds.
                            log.warning(
                                "webhook_key_refused",
                                subscription=str(sub["id"]),
                                reason=f"the signing key {HEADER_SAFE_RULE}",
                            )
                            continue
                        keys.append(key)
        except Exception as exc:
            log.warning("webhook_keys_unreadable", error=type(exc).__name__)
            self.keys_loaded_at = time.monotonic()
            return
        self.keys = keys
        self.keys_loaded_at = time.monotonic()
        log.info("webhook_keys_loaded", subscriptions=len(keys))

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.worker = loop.create_task(self._work())
        self.woken.set()  # what waits from before this process started (a kill, a restart)
        self.drainer = loop.create_task(self._drain_loop())

    def wake(self) -> None:
        """Look at the inbox now (a notification, or this replica just took the lead)."""
        self.woken.set()

    async def close(self, timeout: float | None = None) -> None:
        """Cancel the worker, the drainer and the pruner and wait for them, ``timeout`` seconds
        at most (None: until they ended): a stop never waits longer than its bound for them."""
        tasks = [t for t in (self.worker, self.drainer, self.pruner) if t is not None]
        for task in tasks:
            if not task.done() and not task.cancelling():
                task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def _refuse(self, status: int, reason: str, message: str) -> Response:
        self.daemon.observer.webhook(False, reason)
        log.warning("webhook_rejected", reason=reason)
        return JSONResponse({"error": message}, status_code=status)

    async def handle(self, request: Request) -> Response:
        secret = request.headers.get("x-hook-secret")
        if secret is not None and not header_safe(secret):
            # It would go back out in a response header: refused, and never echoed or logged.
            return self._refuse(400, "bad_handshake", f"X-Hook-Secret {HEADER_SAFE_RULE}")
        if secret is not None:
            self.daemon.observer.webhook(True, "handshake")
            # Anyone can send one: it must not make the keys be read (the subscription's first
            # callback does, within the reads' rate limit).
            log.info("webhook_handshake")
            return Response(status_code=200, headers={"X-Hook-Secret": secret})
        if self.daemon.stopping or (self.daemon.role != "leader" and not self.shared):
            # Nothing is read: SmartRecruiters delivers again later (to another replica, or to
            # this one restarted).
            self.daemon.observer.webhook(False, "stopping")
            return JSONResponse({"error": "stopping; retry"}, status_code=503)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return self._refuse(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return self._refuse(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
        verdict = verify_request(self.keys, dict(request.headers), body, tolerance_seconds=None)
        if not verdict.ok:
            await self.load_keys()  # a key made since the last read (subscribe, rotation)
            verdict = verify_request(self.keys, dict(request.headers), body, tolerance_seconds=None)
        if not self.keys:
            return self._refuse(
                401, "no_keys", "no signing keys (SYNCD_WEBHOOKS__SECRET_KEYS or a subscription)"
            )
        if not verdict.ok:
            return self._refuse(401, "bad_signature", verdict.reason)
        stamp = parse_timestamp(request.headers.get("smartrecruiters-timestamp", ""))
        if stamp is None:  # nan, inf, 1e20, a fraction: none can be compared with now
            return self._refuse(
                400,
                "bad_timestamp",
                "smartrecruiters-timestamp must be whole seconds since the epoch",
            )
        age = abs(time.time() - stamp)
        if age > self.tolerance:
            return self._refuse(
                401, "stale", f"smartrecruiters-timestamp is {age:.0f}s away from now"
            )
        event_id = request.headers.get("event-id", "")
        if not event_id:
            return self._refuse(400, "no_event_id", "event-id header missing")
        event_name = request.headers.get("event-name", "")
        try:
            target = read_body(event_name, body)
        except BadBody as exc:
            # Refused, not ignored: the change it announces would wait for the next pass
            # unnoticed. SmartRecruiters delivers it again (up to 10 times, docs/webhooks.md
            # "Deliveries"), each refused alike; its callbacks log shows the 400s.
            self.daemon.observer.webhook(False, "bad_body")
            log.warning(
                "webhook_rejected", reason="bad_body", event_name=event_name[:100], problem=str(exc)
            )
            return JSONResponse({"error": f"{event_name[:100]}: {exc}"}, status_code=400)
        if target is not None:
            # Refused before it is recorded or queued: one malformed id must not reach a refresh
            # batch (SmartRecruiters' ids never have this form, so a redelivery cannot help).
            problem = id_problem(*target)
            if problem is not None:
                return self._refuse(400, "bad_id", problem)
        # Read once: the answer below follows what was recorded, even if the lead moves meanwhile.
        leading = self.daemon.role == "leader"
        if len(event_id) > inbox.EVENT_ID_MAX:  # the inbox's column; UUIDs in practice
            return self._refuse(
                400, "no_event_id", f"event-id header over {inbox.EVENT_ID_MAX} characters"
            )
        if self.seen.seen(event_id):  # one queued in memory only (below)
            return self._refuse(409, "replayed", "this event-id was accepted before")
        try:
            fresh = await asyncio.to_thread(
                inbox.accept,
                self.daemon.db,
                self.daemon.tenant,
                event_id,
                event_name,
                target,
                waiting=True,
                wait_seconds=ACCEPT_WAIT_SECONDS,
            )
        except inbox.InboxBusy:
            # SQLite: a pass held the file's write lock past ACCEPT_WAIT_SECONDS. Answered in
            # time all the same, refreshed from memory (not kept across a crash: the next pass
            # catches it), and its event-id kept in memory for replays.
            self.seen.add(event_id)
            if target is None:
                self.daemon.observer.webhook(True, "ignored")
                return JSONResponse({"accepted": True, "refresh": None}, status_code=202)
            self.queue.put_nowait(target)
            self.daemon.observer.webhook(True, "unstored")
            log.warning("webhook_inbox_busy", event_name=event_name, resource=target[0])
            return JSONResponse({"accepted": True, "refresh": target[0]}, status_code=202)
        except Exception as exc:
            log.warning("webhook_inbox_unavailable", error=describe_db_error(exc))
            return self._refuse(503, "inbox_unavailable", "the database did not answer; retry")
        if not fresh:
            return self._refuse(409, "replayed", "this event-id was accepted before")
        if target is None:
            self.daemon.observer.webhook(True, "ignored")
            return JSONResponse({"accepted": True, "refresh": None}, status_code=202)
        self.daemon.observer.inbox_accepted(self.daemon.tenant)
        if not leading:
            self.daemon.observer.webhook(True, "inbox")
            log.info("webhook_inbox_accepted", event_name=event_name, resource=target[0])
            return JSONResponse(
                {"accepted": True, "refresh": target[0], "inbox": True}, status_code=202
            )
        # Stored: the drainer refreshes it now (an in-process wake-up, no poll, no NOTIFY
        # round trip), past any retry pause a failed drain set.
        self.urgent = True
        self.wake()
        self.daemon.observer.webhook(True, "queued")
        log.info("webhook_accepted", event_name=event_name, resource=target[0])
        return JSONResponse({"accepted": True, "refresh": target[0]}, status_code=202)

    async def _work(self) -> None:
        """Refresh what the callbacks SQLite's write lock kept out of the inbox named:
        everything queued at once, by resource (one refresh run per resource and batch;
        ``_refresh_isolated`` keeps one bad record from stopping the others)."""
        while True:
            first = await self.queue.get()
            batch = [first]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            by_resource: dict[str, list[str]] = {}
            for resource, ident in batch:
                by_resource.setdefault(resource, []).append(ident)
            for resource, ids in by_resource.items():
                if self.daemon.role != "leader" or self.daemon.stopping:
                    break  # the next pass of the leader reads them
                try:
                    await self._refresh_isolated(resource, ids)
                except asyncio.CancelledError:
                    me = asyncio.current_task()
                    if me is not None and me.cancelling():
                        raise  # the worker itself is stopping
                    log.info("webhook_refresh_stopped", resource=resource)  # lead lost

    def _refresh_failed(self, resource: str, exc: BaseException, records: int) -> None:
        self.daemon.observer.job_failed("webhook_refresh")
        log.error(
            "webhook_refresh_failed",
            resource=resource,
            records=records,
            error=describe_db_error(exc) if not isinstance(exc, ValueError) else "ValueError",
        )

    async def _refresh_isolated(self, resource: str, ids: list[str]) -> None:
        """Refresh ``ids`` of ``resource`` in one run; when that run fails, each id in a run of
        its own, so a record that cannot be refreshed (an id of the wrong form, a body the
        mapping refuses) never drops the others queued with it. Each failure is logged
        (``webhook_refresh_failed``, without the id) and counted in
        ``syncd_job_failures_total{job="webhook_refresh"}``; polling is the safety net.
        Raises CancelledError only."""
        good = [i for i in ids if id_problem(resource, i) is None]
        if len(good) < len(ids):  # refused at intake since; kept for safety
            self._refresh_failed(resource, ValueError(), len(ids) - len(good))
        if not good:
            return
        try:
            await self.daemon.refresh(resource, good)
            self.refreshed += len(good)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if len(good) == 1:
                self._refresh_failed(resource, exc, 1)
                return
            log.warning(
                "webhook_refresh_batch_failed",
                resource=resource,
                records=len(good),
                error=describe_db_error(exc),
            )
        for ident in good:
            if self.daemon.role != "leader" or self.daemon.stopping:
                return
            try:
                await self.daemon.refresh(resource, [ident])
                self.refreshed += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._refresh_failed(resource, exc, 1)

    async def _drain_loop(self) -> None:
        """The leader's side of the inbox: drain at each wake-up (a callback it stored itself,
        a NOTIFY, the lead just taken) and every ``INBOX_POLL_SECONDS``; a standby only
        waits. A failed drain is logged, counted
        (``syncd_job_failures_total{job="webhook_inbox"}``) and tried again after
        ``INBOX_RETRY_SECONDS`` (sooner when a callback of its own arrives meanwhile): its
        callbacks stay in the inbox, and polling is the safety net."""
        while True:
            # Not ``asyncio.wait_for``: on Python 3.11 a cancel arriving as the wake-up does
            # (``start`` sets it, a stop during start-up cancels at once) is swallowed, and the
            # stop then waited here for the next poll.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(INBOX_POLL_SECONDS):
                    await self.woken.wait()
            self.woken.clear()
            if self.daemon.role != "leader" or self.daemon.stopping:
                continue
            if time.monotonic() < self.retry_at and not self.urgent:
                continue
            self.urgent = False
            try:
                more = await self.drain()
                if time.monotonic() - self.pruned_at > INBOX_PRUNE_SECONDS:
                    self.pruned_at = time.monotonic()
                    self._prune_soon()
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if me is not None and me.cancelling():
                    raise  # the drainer itself is stopping
                log.info("webhook_inbox_stopped")  # lead lost: the next leader drains the rest
            except Exception as exc:
                self.retry_at = time.monotonic() + INBOX_RETRY_SECONDS
                self.daemon.observer.job_failed("webhook_inbox")
                log.error("webhook_inbox_failed", error=describe_db_error(exc))
            else:
                if more:
                    self.woken.set()

    def _prune_soon(self) -> None:
        """Prune in a task of its own: on SQLite the delete may wait for a pass's write group,
        and the drainer must not wait with it (its next callback would)."""
        if self.pruner is not None and not self.pruner.done():
            return
        d = self.daemon

        async def prune() -> None:
            try:
                await asyncio.to_thread(inbox.prune, d.db, d.tenant, self.seen.keep)
            except Exception as exc:  # the next prune tries again
                log.warning("webhook_inbox_prune_failed", error=describe_db_error(exc))

        self.pruner = asyncio.get_running_loop().create_task(prune())

    async def drain(self) -> bool:
        """Refresh what waits in the inbox, one refresh per resource; each marks its callbacks
        done in the transaction that writes the records. A callback whose id has the wrong form
        (it can never refresh) is marked done and logged; when a resource's refresh fails, its
        records are refreshed one at a time, so one bad record does not hold the others back.
        Returns True when a full batch was read (more may wait). Raises the first failure after
        the rest was done (those callbacks stay waiting, until ``INBOX_GIVE_UP_SECONDS``)."""
        d = self.daemon
        give_up = max(INBOX_GIVE_UP_SECONDS, 3 * d.settings.schedule.poll_interval_seconds)
        expired = await asyncio.to_thread(inbox.expire, d.db, d.tenant, give_up)
        if expired:
            d.observer.inbox_expired(d.tenant, expired)
            log.warning(
                "webhook_inbox_expired",
                callbacks=expired,
                waited_seconds=give_up,
                fix="the pull passes read these changes; webhook_inbox_record_failed says why "
                "their refresh failed",
            )
        waiting = await asyncio.to_thread(inbox.pending, d.db, d.tenant, INBOX_BATCH)
        by_resource: dict[str, dict[str, list[str]]] = {}  # resource -> id -> event ids
        refused: list[str] = []
        for w in waiting:
            if w.resource not in _refreshable_names() or id_problem(w.resource, w.record_id):
                refused.append(w.event_id)
                continue
            by_resource.setdefault(w.resource, {}).setdefault(w.record_id, []).append(w.event_id)
        if refused:
            await asyncio.to_thread(self._give_up, refused)
            log.warning("webhook_inbox_refused", callbacks=len(refused), error="ValueError")
        failure: Exception | None = None
        for resource, events_of in by_resource.items():
            if d.role != "leader" or d.stopping:
                return False
            ids = list(events_of)
            events = [e for es in events_of.values() for e in es]
            try:
                await d.refresh(resource, ids, also=inbox.marker(d.tenant, events))
            except Exception as exc:
                if len(ids) == 1:
                    failure = failure or exc
                    continue
                for ident in ids:  # one at a time: the bad one alone stays waiting
                    if d.role != "leader" or d.stopping:
                        return False
                    try:
                        await d.refresh(
                            resource, [ident], also=inbox.marker(d.tenant, events_of[ident])
                        )
                    except Exception as one:
                        failure = failure or one
                        log.warning(
                            "webhook_inbox_record_failed",
                            resource=resource,
                            error=describe_db_error(one),
                        )
                    else:
                        self.refreshed += 1
                continue
            self.refreshed += len(ids)
            log.info("webhook_inbox_drained", resource=resource, callbacks=len(events))
        if failure is not None:
            raise failure
        return len(waiting) == INBOX_BATCH

    def _give_up(self, events: list[str]) -> None:
        with self.daemon.db.begin() as conn:
            inbox.mark_done(conn, self.daemon.tenant, events)
