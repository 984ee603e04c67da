"""Webhooks API ``/webhooks-api/v201907`` (cursor ``page_id``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    WEBHOOKS,
    Group,
    Json,
    as_json_object,
    checked_limit,
)
from syncd.ats.paging import MAX_PAGE, Page


class Webhooks(Group):
    """Webhooks API ``/webhooks-api/v201907`` (cursor ``page_id``)."""

    async def create(
        self,
        callback_url: str,
        events: Sequence[str],
        *,
        alerting_email_address: str | None = None,
        callback_authentication: Mapping[str, Any] | None = None,
    ) -> Json:
        body: Json = {"callbackUrl": callback_url, "events": list(events)}
        if alerting_email_address is not None:
            body["alertingEmailAddress"] = alerting_email_address
        if callback_authentication is not None:
            body["callbackAuthentication"] = dict(callback_authentication)
        return as_json_object(await self._c.request("POST", WEBHOOKS + "/subscriptions", json=body))

    def pages(self, limit: int = MAX_PAGE) -> AsyncIterator[Page]:
        return self._c.cursor_pages(
            WEBHOOKS + "/subscriptions", {"limit": checked_limit(limit)}, token_param="page_id"
        )

    async def get(self, subscription_id: str) -> Json:
        return await self._get(P(WEBHOOKS + "/subscriptions/{id}", subscription_id))

    async def delete(self, subscription_id: str) -> None:
        await self._c.request("DELETE", P(WEBHOOKS + "/subscriptions/{id}", subscription_id))

    async def activate(self, subscription_id: str) -> None:
        """``PUT …/activation``: SmartRecruiters then handshakes with the callback URL."""
        await self._c.request(
            "PUT", P(WEBHOOKS + "/subscriptions/{id}/activation", subscription_id)
        )

    async def generate_secret_key(self, subscription_id: str) -> Json:
        body = await self._c.request(
            "POST", P(WEBHOOKS + "/subscriptions/{id}/secret-key", subscription_id)
        )
        return as_json_object(body)

    async def secret_key(self, subscription_id: str) -> Json:
        return await self._get(P(WEBHOOKS + "/subscriptions/{id}/secret-key", subscription_id))

    def callbacks_log(
        self,
        subscription_id: str,
        *,
        callback_status: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = MAX_PAGE,
    ) -> AsyncIterator[Page]:
        params = {
            "limit": checked_limit(limit),
            "callbackStatus": callback_status,
            "after": after,
            "before": before,
        }
        return self._c.cursor_pages(
            P(WEBHOOKS + "/subscriptions/{id}/callbacks-log", subscription_id),
            params,
            token_param="page_id",
        )
