"""SmartRecruiters API routes, one module per API group."""

from __future__ import annotations

from starlette.routing import BaseRoute

from syncd.sandbox.routes import (
    approvals,
    assessments,
    audit,
    candidates,
    candidates_extra,
    configuration,
    interviews,
    job_applications,
    jobs,
    jobs_extra,
    messages,
    oauth,
    offers,
    webhooks,
)

ROUTES: list[BaseRoute] = [
    *oauth.ROUTES,
    *candidates.ROUTES,
    *candidates_extra.ROUTES,
    *jobs.ROUTES,
    *jobs_extra.ROUTES,
    *offers.ROUTES,
    *audit.ROUTES,
    *job_applications.ROUTES,
    *approvals.ROUTES,
    *interviews.ROUTES,
    *messages.ROUTES,
    *assessments.ROUTES,
    *configuration.ROUTES,
    *webhooks.ROUTES,
]
