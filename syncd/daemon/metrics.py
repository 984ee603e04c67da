"""What the daemon reports to Prometheus, behind one observer interface.

Every part of ``syncd run`` tells the ``Observer`` what happened (an API call answered, a pass
ended, a dispatcher pass ended, a webhook callback accepted or rejected, leadership taken or
lost); ``PrometheusObserver`` turns that into ``prometheus-client`` metrics in a registry of its
own. Gauges that describe the mirror (quarantined records, outbox backlog, dead letters) are read
from the database when ``/metrics`` is scraped (``refresh_from_mirror``). No label ever holds
personal data: resources, sinks, API groups, statuses and reasons are fixed vocabularies.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC
from typing import Any, Protocol

import httpx
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from sqlalchemy import Engine, func, select

OUTCOMES = ("inserted", "updated", "unchanged", "deleted", "quarantined")
DELIVERY_OUTCOMES = ("sent", "delivered", "rejected", "dead", "skipped", "parked", "retrying")


def api_group(path: str) -> str:
    """The API group of a request path: its first segment (``/candidates/…`` -> ``candidates``,
    ``/webhooks-api/v201907/…`` -> ``webhooks``). A fixed vocabulary: ids never appear."""
    first = path.lstrip("/").split("/", 1)[0]
    return first.removesuffix("-api") or "root"


class Observer(Protocol):
    def api_call(self, group: str, status: int) -> None: ...
    def limiter_wait(self, path: str, seconds: float) -> None: ...
    def pass_ended(self, report: Any) -> None: ...
    def push_ended(self, reports: Iterable[Any]) -> None: ...
    def job_failed(self, job: str) -> None: ...
    def webhook(self, accepted: bool, reason: str) -> None: ...
    def leader(self, tenant: str, leading: bool) -> None: ...
    def inbox_accepted(self, tenant: str) -> None: ...
    def inbox_expired(self, tenant: str, n: int) -> None: ...


class _DroppedLogLines:
    """``syncd_log_lines_dropped_total``: log lines the process could not write (its stderr's
    reader gone: ``syncd.logging._CurrentStderr``). Process-wide: with several tenants, the
    same figure under each tenant's label."""

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily

        from syncd.logging import dropped_lines

        yield CounterMetricFamily(
            "syncd_log_lines_dropped",
            "Log lines dropped because stderr could not take them (its reader went away)",
            value=dropped_lines(),
        )


class PrometheusObserver:
    """The ``Observer`` of ``syncd run``: metrics named ``syncd_*`` (docs/daemon.md lists them)."""

    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: they double the output for nothing
        self.registry = CollectorRegistry()
        r = self.registry
        self.api_calls = Counter(
            "syncd_api_calls", "SmartRecruiters API answers by group and HTTP status",
            ["group", "status"], registry=r,
        )  # fmt: skip
        self.throttled = Counter(
            "syncd_api_throttled", "SmartRecruiters 429 answers (rate limited)", registry=r
        )
        self.limiter_wait_seconds = Histogram(
            "syncd_limiter_wait_seconds",
            "Seconds a SmartRecruiters request waited in the client's limiter (rate, concurrency "
            "caps, pauses after 429s or a low X-RateLimit-Remaining) before it was sent, by group",
            ["group"], registry=r,
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )  # fmt: skip
        self.records = Counter(
            "syncd_records", "Records written by passes, by resource and outcome",
            ["resource", "outcome"], registry=r,
        )  # fmt: skip
        self.passes = Counter(
            "syncd_passes", "Passes ended, by resource, mode and status",
            ["resource", "mode", "status"], registry=r,
        )  # fmt: skip
        self.pass_seconds = Histogram(
            "syncd_pass_duration_seconds", "Duration of a pass, by resource and mode",
            ["resource", "mode"], registry=r,
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
        )  # fmt: skip
        self.tokens_rejected = Counter(
            "syncd_page_tokens_rejected",
            "Page tokens SmartRecruiters refused (400 INVALID_PAGE_ID) during passes, by "
            "resource: the walk restarted from its first page (a second refusal in a run fails "
            "the pass)", ["resource"], registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "Unix time of the last pass of the resource that ended ok", ["resource"], registry=r,
        )  # fmt: skip
        self.deliveries = Counter(
            "syncd_deliveries", "Dispatcher outcomes by sink (sent, delivered, rejected, dead, "
            "skipped, parked, retrying)", ["sink", "outcome"], registry=r,
        )  # fmt: skip
        self.job_failures = Counter(
            "syncd_job_failures", "Scheduled jobs that raised (retried at their next run)",
            ["job"], registry=r,
        )  # fmt: skip
        self.webhooks = Counter(
            "syncd_webhook_callbacks", "SmartRecruiters webhook callbacks by outcome and reason",
            ["outcome", "reason"], registry=r,
        )  # fmt: skip
        self.leading = Gauge(
            "syncd_leader", "1 while this process leads the tenant, 0 while it stands by",
            ["tenant"], registry=r,
        )  # fmt: skip
        r.register(_DroppedLogLines())
        self.inbox_in = Counter(
            "syncd_webhook_inbox_accepted",
            "Callbacks naming a record that this replica verified and stored in the webhook "
            "inbox, for itself when it leads the tenant or for the tenant's leader",
            ["tenant"], registry=r,
        )  # fmt: skip
        self.inbox_expired_total = Counter(
            "syncd_webhook_inbox_expired",
            "Callbacks given up unrefreshed after waiting in the webhook inbox past the "
            "give-up age (their refresh kept failing; the pull passes read the change)",
            ["tenant"], registry=r,
        )  # fmt: skip
        self.inbox_backlog = Gauge(
            "syncd_webhook_inbox_backlog",
            "Callbacks in the webhook inbox not yet refreshed by the tenant's leader, its own "
            "included (the database's count: every replica reports the same)", ["tenant"],
            registry=r,
        )  # fmt: skip
        self.quarantined = Gauge(
            "syncd_quarantined_records", "Records in quarantine, by resource", ["resource"],
            registry=r,
        )  # fmt: skip
        self.running_records = Gauge(
            "syncd_pass_running_records",
            "Records the pass in progress has committed so far, by resource and outcome (the "
            "sync_runs row's counts, updated with each write group); no series while none runs",
            ["resource", "outcome"], registry=r,
        )  # fmt: skip
        self.cursor_lag = Gauge(
            "syncd_cursor_lag_seconds",
            "Now minus the resource's cursor (where its next incremental pass starts)",
            ["resource"], registry=r,
        )  # fmt: skip
        self.backlog = Gauge(
            "syncd_outbox_backlog",
            "Outbox records the sink has not read yet plus its open deliveries", ["sink"],
            registry=r,
        )  # fmt: skip
        self.dead_letters = Gauge(
            "syncd_dead_letters", "Deliveries that are dead letters (rejected or dead), by sink",
            ["sink"], registry=r,
        )  # fmt: skip

    # ---- Observer -----------------------------------------------------------------------------
    def api_call(self, group: str, status: int) -> None:
        self.api_calls.labels(group, str(status)).inc()
        if status == 429:
            self.throttled.inc()

    def limiter_wait(self, path: str, seconds: float) -> None:
        """One request's wait in the limiter (the client's ``on_limiter_wait``): by its path's
        group, never the path itself."""
        self.limiter_wait_seconds.labels(api_group(path)).observe(max(0.0, seconds))

    def pass_ended(self, report: Any) -> None:
        c = report.counts
        for outcome in OUTCOMES:
            n = getattr(c, outcome)
            if n:
                self.records.labels(report.resource, outcome).inc(n)
        self.passes.labels(report.resource, report.mode, report.status).inc()
        if getattr(report, "tokens_rejected", 0):
            self.tokens_rejected.labels(report.resource).inc(report.tokens_rejected)
        if report.ended_at is not None and report.started_at is not None:
            seconds = max(0.0, (report.ended_at - report.started_at).total_seconds())
            self.pass_seconds.labels(report.resource, report.mode).observe(seconds)
        if report.status == "ok" and report.ended_at is not None:
            from syncd.sync.passes import aware

            ended = aware(report.ended_at)
            assert ended is not None
            self.last_success.labels(report.resource).set(ended.timestamp())

    def push_ended(self, reports: Iterable[Any]) -> None:
        for r in reports:
            for outcome in DELIVERY_OUTCOMES:
                n = getattr(r, outcome)
                if n:
                    self.deliveries.labels(r.sink, outcome).inc(n)

    def job_failed(self, job: str) -> None:
        self.job_failures.labels(job).inc()

    def webhook(self, accepted: bool, reason: str) -> None:
        self.webhooks.labels("accepted" if accepted else "rejected", reason).inc()

    def leader(self, tenant: str, leading: bool) -> None:
        self.leading.labels(tenant).set(1 if leading else 0)
        self.inbox_in.labels(tenant)  # the series exist (at 0) from the start
        self.inbox_expired_total.labels(tenant)

    def inbox_accepted(self, tenant: str) -> None:
        self.inbox_in.labels(tenant).inc()

    def inbox_expired(self, tenant: str, n: int) -> None:
        self.inbox_expired_total.labels(tenant).inc(n)

    # ---- scrape -------------------------------------------------------------------------------
    def refresh_from_mirror(self, engine: Engine, tenant: str, sinks: Iterable[str]) -> None:
        """Read the mirror's gauges (blocking: call it in a worker thread)."""
        from syncd.mirror import inbox
        from syncd.mirror import schema as s
        from syncd.mirror.inspect import sinks_status

        with engine.connect() as conn:
            t = s.quarantine
            rows = conn.execute(
                select(t.c.resource, func.count())
                .where(t.c.tenant == tenant)
                .group_by(t.c.resource)
            ).all()
            by_sink = sinks_status(conn, tenant)
            state = s.sync_state
            cursors = conn.execute(
                select(state.c.resource, state.c.cursor).where(state.c.tenant == tenant)
            ).all()
            waiting = inbox.backlog(conn, tenant)
            runs = s.sync_runs
            running = conn.execute(
                select(runs.c.resource, *(runs.c[o] for o in OUTCOMES)).where(
                    runs.c.tenant == tenant, runs.c.status == "running"
                )
            ).all()
        self.inbox_backlog.labels(tenant).set(waiting)
        now = time.time()
        for resource, cursor in cursors:
            if cursor is not None:
                self.cursor_lag.labels(resource).set(now - cursor.replace(tzinfo=UTC).timestamp())
        self.running_records.clear()
        for resource, *counts in running:
            for outcome, n in zip(OUTCOMES, counts, strict=True):
                self.running_records.labels(resource, outcome).set(int(n))
        self.quarantined.clear()
        for resource, n in rows:
            self.quarantined.labels(resource).set(int(n))
        for sink in sinks:
            st = by_sink.get(sink, {"backlog": 0, "dead_letters": 0})
            self.backlog.labels(sink).set(st["backlog"])
            self.dead_letters.labels(sink).set(st["dead_letters"])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ObservedTransport(httpx.AsyncBaseTransport):
    """The SmartRecruiters client's transport with every answer told to the observer (group and
    status only: never the path's ids)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, observer: Observer) -> None:
        self.inner = inner
        self.observer = observer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.observer.api_call(api_group(request.url.path), response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
