"""SmartRecruiters webhook signatures (scheme ``v1``): sign a callback, parse the header, verify.

``v1`` is HMAC-SHA256, hex encoded, over six parts joined by ``.``::

    timestamp . body . event-id . event-name . event-version . link

with an empty string for any header the callback lacks. While keys rotate the header carries one
entry per valid key, ``v1=<hex>;v1=<hex>``; a receiver accepts the callback when any entry matches
any key it holds. Future schemes may appear beside ``v1``: unknown schemes are skipped, not errors.

Standard library only, and nothing from the rest of syncd, so any receiver can use this module
(or copy it) without pulling in the sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SCHEME = "v1"
SIGNATURE_HEADER = "smartrecruiters-signature"
TIMESTAMP_HEADER = "smartrecruiters-timestamp"
SIGNED_HEADERS = ("event-id", "event-name", "event-version", "link")


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def signed_content(
    *,
    timestamp: str | bytes,
    body: str | bytes,
    event_id: str | bytes = "",
    event_name: str | bytes = "",
    event_version: str | bytes = "",
    link: str | bytes = "",
) -> bytes:
    """The exact bytes ``v1`` signs. ``body`` must be the raw request body, not re-serialised JSON:
    any change of whitespace or key order changes the signature."""
    parts = (timestamp, body, event_id, event_name, event_version, link)
    return b".".join(_b(p) for p in parts)


def sign(
    key: str | bytes,
    *,
    timestamp: str | bytes,
    body: str | bytes,
    event_id: str | bytes = "",
    event_name: str | bytes = "",
    event_version: str | bytes = "",
    link: str | bytes = "",
) -> str:
    """The ``v1`` hex digest for one key."""
    content = signed_content(
        timestamp=timestamp,
        body=body,
        event_id=event_id,
        event_name=event_name,
        event_version=event_version,
        link=link,
    )
    return hmac.new(_b(key), content, hashlib.sha256).hexdigest()


def signature_header(
    keys: Iterable[str | bytes],
    *,
    timestamp: str | bytes,
    body: str | bytes,
    event_id: str | bytes = "",
    event_name: str | bytes = "",
    event_version: str | bytes = "",
    link: str | bytes = "",
) -> str:
    """The ``smartrecruiters-signature`` value: ``v1=<hex>`` per key, joined by ``;``."""
    return ";".join(
        f"{SCHEME}="
        + sign(
            k,
            timestamp=timestamp,
            body=body,
            event_id=event_id,
            event_name=event_name,
            event_version=event_version,
            link=link,
        )
        for k in keys
    )


def parse_signature_header(value: str) -> list[tuple[str, str]]:
    """``"v1=ab;v1=cd"`` -> ``[("v1", "ab"), ("v1", "cd")]``. Blank or malformed segments (no
    ``=``) are dropped; a receiver then simply finds no matching signature."""
    out: list[tuple[str, str]] = []
    for segment in value.split(";"):
        scheme, sep, digest = segment.strip().partition("=")
        if sep and scheme.strip() and digest.strip():
            out.append((scheme.strip(), digest.strip()))
    return out


def verify(
    keys: str | bytes | Iterable[str | bytes],
    header_value: str,
    *,
    timestamp: str | bytes,
    body: str | bytes,
    event_id: str | bytes = "",
    event_name: str | bytes = "",
    event_version: str | bytes = "",
    link: str | bytes = "",
) -> bool:
    """True when some ``v1`` entry of ``header_value`` matches some key. Constant-time compare."""
    key_list = [keys] if isinstance(keys, (str, bytes)) else list(keys)
    given = [d.lower() for scheme, d in parse_signature_header(header_value) if scheme == SCHEME]
    if not given or not key_list:
        return False
    content = signed_content(
        timestamp=timestamp,
        body=body,
        event_id=event_id,
        event_name=event_name,
        event_version=event_version,
        link=link,
    )
    ok = False
    for key in key_list:
        expected = hmac.new(_b(key), content, hashlib.sha256).hexdigest()
        for digest in given:
            # No early exit: the time taken must not tell which entry or key matched.
            ok |= hmac.compare_digest(expected, digest)
    return ok


_SECONDS = re.compile(r"^[0-9]{1,12}$")


def parse_timestamp(value: str) -> int | None:
    """``smartrecruiters-timestamp`` as whole seconds since the epoch (what SmartRecruiters
    sends), or None for anything else: ``nan``, ``inf``, ``1e20``, a fraction, a sign, or more
    than 12 digits. A float parse would let ``nan`` through every staleness comparison."""
    value = value.strip()
    return int(value) if _SECONDS.fullmatch(value) else None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def verify_request(
    keys: str | bytes | Iterable[str | bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float | None = 300.0,
    now: float | None = None,
) -> Verdict:
    """Check a received callback from its headers and raw body.

    ``headers`` may use any letter case. With ``tolerance_seconds`` set, a timestamp further than
    that from ``now`` fails, so a captured callback cannot be replayed later; pass None to skip
    the check (e.g. when verifying logged callbacks). The reason never contains key material.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    header_value = lower.get(SIGNATURE_HEADER)
    if not header_value:
        return Verdict(False, f"missing {SIGNATURE_HEADER} header")
    timestamp = lower.get(TIMESTAMP_HEADER, "")
    if tolerance_seconds is not None:
        ts = parse_timestamp(timestamp)
        if ts is None:
            return Verdict(False, f"{TIMESTAMP_HEADER} header is missing or not whole seconds")
        current = time.time() if now is None else now
        if abs(current - ts) > tolerance_seconds:
            return Verdict(
                False, f"{TIMESTAMP_HEADER} is {current - ts:.0f}s away from now (replayed?)"
            )
    matched = verify(
        keys,
        header_value,
        timestamp=timestamp,
        body=body,
        event_id=lower.get("event-id", ""),
        event_name=lower.get("event-name", ""),
        event_version=lower.get("event-version", ""),
        link=lower.get("link", ""),
    )
    return Verdict(True) if matched else Verdict(False, "no v1 signature matches the keys held")
