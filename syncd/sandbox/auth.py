"""Credentials: ``X-SmartToken`` API keys and OAuth2 client credentials with expiring bearers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from syncd.sandbox.clock import Clock

ALL_SCOPES = frozenset(
    {
        "candidates_read",
        "candidates_create",
        "candidates_manage",
        "candidate_status_read",
        "candidates_offers_read",
        "jobs_read",
        "jobs_manage",
        "jobs_publications_manage",
        "configuration_read",
        "configuration_manage",
        "audit_events_read",
        "approvals_read",
        "approvals_manage",
        "interviews_read",
        "interviews_manage",
        "job_applications_read",
        "messages_read",
        "messages_write",
        "webhooks_read",
        "webhooks_manage",
        "assessments_manage",
        "client_credentials_write",
    }
)


@dataclass
class Credential:
    """Who is calling. ``key`` identifies the credential for limits: the API key itself, or the
    OAuth client id for every bearer issued to that client."""

    key: str
    role: str = "ADMINISTRATOR"
    scopes: frozenset[str] = ALL_SCOPES
    user_id: str = "sandbox-api-user"


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    credential: Credential


@dataclass
class AuthRegistry:
    clock: Clock
    token_ttl: int = 3600
    api_keys: dict[str, Credential] = field(default_factory=dict)
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    bearers: dict[str, tuple[Credential, float]] = field(default_factory=dict)

    def add_api_key(
        self, key: str, *, role: str = "ADMINISTRATOR", scopes: frozenset[str] = ALL_SCOPES
    ) -> Credential:
        cred = Credential(key=f"key:{key[:6]}:{len(self.api_keys)}", role=role, scopes=scopes)
        self.api_keys[key] = cred
        return cred

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        role: str = "ADMINISTRATOR",
        scopes: frozenset[str] = ALL_SCOPES,
    ) -> OAuthClient:
        client = OAuthClient(
            client_id, client_secret, Credential(f"client:{client_id}", role, scopes)
        )
        self.clients[client_id] = client
        return client

    def issue(self, client_id: str, client_secret: str) -> tuple[str, int] | None:
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.client_secret, client_secret):
            return None
        token = secrets.token_urlsafe(32)
        self.bearers[token] = (client.credential, self.clock.now() + self.token_ttl)
        return token, self.token_ttl

    def expire_all(self) -> int:
        n = len(self.bearers)
        self.bearers.clear()
        return n

    def resolve(self, api_key: str | None, bearer: str | None) -> tuple[Credential | None, str]:
        """(credential, reason when None)."""
        if api_key:
            cred = self.api_keys.get(api_key)
            return (cred, "") if cred else (None, "Invalid API key")
        if bearer:
            entry = self.bearers.get(bearer)
            if entry is None:
                return None, "Invalid access token"
            cred, expires = entry
            if self.clock.now() >= expires:
                del self.bearers[bearer]
                return None, "Access token expired"
            return cred, ""
        return None, "Missing credentials: send X-SmartToken or Authorization: Bearer"
