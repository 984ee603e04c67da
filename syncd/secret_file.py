"""The one place a secret is read from a file: ``SYNCD_…_FILE`` variables (``syncd.config``) and
every sink's ``secret_file`` / ``*_file`` setting (``syncd.sinks``) come through here.

Editors and secret stores leave marks a credential must not carry: a UTF-8 byte order mark
(Windows Notepad), a trailing newline, a non-breaking space pasted from a web page. Those at the
edges are dropped; anything invisible left inside a secret bound for an HTTP header is refused
with a line naming the setting, never the value (httpx would fail mid-request, or the target
would answer 401 with no hint why).
"""

from __future__ import annotations

import re
from pathlib import Path

BOM = "\ufeff"
# RFC 9110 field-value: visible ASCII, space and tab only.
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e]")


class SecretFileError(ValueError):
    """A secret file cannot be used. The message is one line: the setting, the problem, the fix;
    never the secret."""


def clean_secret(value: str, setting: str, *, header: bool) -> str:
    """``value`` without a leading BOM and surrounding whitespace (NBSP and other Unicode spaces
    included: ``str.strip``). With ``header``, SecretFileError when a control or non-ASCII
    character remains (a second line, a zero-width space, a letter with an accent)."""
    text = value.lstrip(BOM).strip().lstrip(BOM).strip()
    if header and _HEADER_UNSAFE.search(text):
        raise SecretFileError(
            f"{setting}: holds a line break or another control or non-ASCII character (an "
            "invisible one too, such as a zero-width space); put the secret alone on one line"
        )
    return text


def read_secret_file(path: str | Path, setting: str, *, header: bool, what: str = "secret") -> str:
    """The secret held by the file at ``path``, cleaned by :func:`clean_secret`. ``setting`` names
    where the path was given (``SYNCD_SMARTRECRUITERS__API_KEY_FILE``, ``sinks.hr.api_key_file``)
    and ``what`` the secret in messages. Raises SecretFileError: unreadable, not UTF-8, empty,
    or (``header``) holding a character an HTTP header cannot carry."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SecretFileError(
            f"{setting}: cannot read {str(path)!r} ({exc.strerror}); point it at a "
            f"readable file holding the {what}"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretFileError(
            f"{setting}: byte {exc.start} of {str(path)!r} is not UTF-8; save the file as UTF-8 "
            f"holding the {what} alone"
        ) from None
    value = clean_secret(text, setting, header=header)
    if not value:
        raise SecretFileError(f"{setting}: {str(path)!r} is empty; put the {what} in it")
    return value
