"""``POST /identity/oauth/token``: OAuth2 client credentials; errors as RFC 6749 says."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.server import sandbox_of


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, secret = raw.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


async def token(request: Request) -> Response:
    ctype = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" not in ctype:
        return _oauth_error(400, "invalid_request", "Use application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if not form.get("grant_type"):
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if form["grant_type"] != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    # RFC 6749 2.3.1: a client may authenticate with HTTP Basic instead of form fields.
    basic = _basic_credentials(request.headers.get("authorization", ""))
    client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
    if not client_id or not client_secret:
        return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
    issued = sandbox_of(request).auth.issue(client_id, client_secret)
    if issued is None:
        response = _oauth_error(401, "invalid_client", "Client authentication failed")
        if basic is not None:
            response.headers["WWW-Authenticate"] = 'Basic realm="smartrecruiters"'
        return response
    access_token, expires_in = issued
    return json_response(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in},
        headers={"Cache-Control": "no-store"},
    )


ROUTES = [Route("/identity/oauth/token", token, methods=["POST"])]
