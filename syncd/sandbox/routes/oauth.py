"""``POST /identity/oauth/token``: OAuth2 client credentials; errors as RFC 6749 says."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.server import sandbox_of


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


async def token(request: Request) -> Response:
    ctype = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" not in ctype:
        return _oauth_error(400, "invalid_request", "Use application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    if not form.get("client_id") or not form.get("client_secret"):
        return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
    issued = sandbox_of(request).auth.issue(form["client_id"], form["client_secret"])
    if issued is None:
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    access_token, expires_in = issued
    return json_response(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in},
        headers={"Cache-Control": "no-store"},
    )


ROUTES = [Route("/identity/oauth/token", token, methods=["POST"])]
