"""Assessment API: orders (``v202107``) and the partner side (``v202010``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    ASSESSMENT_ORDERS,
    ASSESSMENT_PARTNER,
    FileArg,
    Group,
    Json,
    as_json_object,
)


class Assessments(Group):
    """Assessment API: orders (``v202107``) and the partner side (``v202010``)."""

    async def orders(self, application_id: str) -> list[Json]:
        return await self._list(
            ASSESSMENT_ORDERS + "/assessment-orders", {"applicationId": application_id}
        )

    async def set_partner_configuration(self, configuration: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "PUT", ASSESSMENT_PARTNER + "/partner/configuration", json=dict(configuration)
        )
        return as_json_object(body)

    async def integrate_company(self, company_id: str, settings: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "POST",
            P(ASSESSMENT_PARTNER + "/integration/company/{id}", company_id),
            json=dict(settings),
        )
        return as_json_object(body)

    async def set_results(self, order_id: str, results: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "PATCH", P(ASSESSMENT_PARTNER + "/orders/{id}/results", order_id), json=dict(results)
        )
        return as_json_object(body)

    async def add_results_attachment(self, order_id: str, file: FileArg) -> Json:
        body = await self._c.request(
            "POST",
            P(ASSESSMENT_PARTNER + "/orders/{id}/results/attachment", order_id),
            files={"file": file},
        )
        return as_json_object(body)
