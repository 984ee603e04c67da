"""Write-back to SmartRecruiters: ``PUT /candidates/{id}/jobs/{jobId}/onboardingStatus``
(READY_TO_ONBOARD, ONBOARDING_SUCCESSFUL, ONBOARDING_FAILED; SMARTRECRUITERS.md "Enumerations").

- A call only when the value changes within a hire round (``onboarding_writes`` holds syncd's
  last write and the round it was for); a rehire's round is written again from READY_TO_ONBOARD.
- One application's statuses go in order: a write that fails leaves that application's later
  statuses of the pass unwritten (tried again on the next push), so a final status never lands
  before the READY_TO_ONBOARD it follows.
- ``404 ONBOARDING_STATUS_NOT_ACTIVE`` (the tenant has not enabled the Onboarding Status field)
  is reported once per tenant with the fix and stops this pass's writes; each later pass tries
  one write, and once the field is enabled the notice is cleared and the backlog written.
- syncd's own write comes back through the next sync as an application ``updated`` record: the
  dispatcher delivers hires and revocations only, so it never triggers a new delivery.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from sqlalchemy import Engine

from syncd.ats import errors as E
from syncd.delivery.dispatcher import AppKey, Write, WriteBack, WriteGate
from syncd.mirror import deliveries as q
from syncd.mirror.store import utcnow

log = structlog.get_logger("syncd.delivery")

NOT_ACTIVE = "ONBOARDING_STATUS_NOT_ACTIVE"
NOT_ACTIVE_FIX = (
    "SmartRecruiters answers 404 ONBOARDING_STATUS_NOT_ACTIVE: the tenant's Onboarding Status "
    "field is off, so syncd cannot show onboarding progress. Fix: enable the 'Onboarding Status' "
    "candidate field in SmartRecruiters (Settings > Candidate fields); syncd writes the backlog "
    "on the next push."
)


REFUSED_FIX = (
    "SmartRecruiters refused the credential for the onboarding status write-back (HTTP {status}): "
    "check SYNCD_SMARTRECRUITERS__API_KEY and its candidates write scope; the statuses are "
    "written on the next push"
)


def sr_write_back(
    engine: Engine,
    tenant: str,
    sr: Any,
    notices: list[str],
    refused: list[str] | None = None,
    *,
    write_gate: WriteGate | None = None,
) -> WriteBack:
    """A WriteBack over a SmartRecruitersClient. ``notices`` receives a condition's message the
    first time it is seen for the tenant; ``refused`` receives the message of a credential
    refusal (401/403), which the command turns into exit 3. ``write_gate`` is taken around each
    write transaction (never around a call to SmartRecruiters)."""

    def gate() -> contextlib.AbstractAsyncContextManager[Any]:
        return write_gate() if write_gate else contextlib.nullcontext()

    async def write(calls: list[Write]) -> None:
        with engine.connect() as conn:
            blocked = q.has_notice(conn, tenant, NOT_ACTIVE)
        failed: set[AppKey] = set()
        for key, hire_round, status in calls:
            if key in failed:
                continue  # its earlier status of this pass was not written: keep the order
            try:
                await sr.applications.set_onboarding_status(key[0], key[1], status)
            except E.NotFoundError as exc:
                if NOT_ACTIVE in exc.codes:
                    async with gate():
                        with engine.begin() as conn:
                            first = q.notice(conn, tenant, NOT_ACTIVE, NOT_ACTIVE_FIX, now=utcnow())
                    if first:
                        notices.append(NOT_ACTIVE_FIX)
                        log.error("onboarding_status_not_active", tenant=tenant)
                    return  # not retried in a loop: the next pass tries one write
                log.warning("writeback_not_found", codes=exc.codes)
                failed.add(key)
                continue
            except (E.AuthenticationError, E.PermissionDeniedError) as exc:
                log.error("writeback_refused", status=exc.status)
                if refused is not None:
                    refused.append(REFUSED_FIX.format(status=exc.status))
                return
            except E.AtsError as exc:
                log.warning("writeback_failed", error=type(exc).__name__, status=exc.status)
                failed.add(key)
                continue
            async with gate():
                with engine.begin() as conn:
                    q.set_written(conn, tenant, key, hire_round, status, now=utcnow())
                    if blocked:
                        q.clear_notice(conn, tenant, NOT_ACTIVE)
            blocked = False
            log.info("onboarding_status_written", status=status)

    return write
