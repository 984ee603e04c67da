"""The typed checkpoint of a pass in progress, one form per phase, stored as JSON in
``sync_state.pass_page``:

- ``WalkCheckpoint``: the list walk is under way; the position is the resource paginator's own
  form (a page token with the records received and the first page's total, or an offset with
  the total), so that one phase's marker can never be read as another's token;
- ``FollowUpsCheckpoint``: the walk is over (complete, or incomplete with its reason); the
  follow-ups named in ``done`` are finished, the others are owed.

Either phase may carry ``seen_from``: when the API refused the walk's page token and the walk
restarted from its first page (``syncd.sync.engine``), the time of that restart. A record counts
as listed by the pass only if the walk touched it at or after that time (its sweep deletes what
the restarted walk did not list, whatever the abandoned walk had listed); absent, the pass's start.

A pass with no checkpoint yet (``pass_page`` NULL) starts its walk at the first page. Anything
else (not JSON, another version, another paging style) is a ``CheckpointError`` whose message
names the resource and the fix (``syncd backfill --restart --resources NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from syncd.ats.paging import CheckpointError, Paginator, Position

VERSION = 1


@dataclass(frozen=True)
class WalkCheckpoint:
    position: Position
    seen_from: datetime | None = None  # the walk restarted at this time (naive UTC)


@dataclass(frozen=True)
class FollowUpsCheckpoint:
    done: tuple[str, ...] = ()
    incomplete: str | None = None  # why the walk could not prove it saw every record
    seen_from: datetime | None = None  # the walk restarted at this time (naive UTC)


Checkpoint = WalkCheckpoint | FollowUpsCheckpoint


class UnreadableCheckpoint(Exception):
    """A pass's checkpoint that this syncd cannot understand. ``str()`` is one line naming the
    resource and the fix."""

    def __init__(self, resource: str, why: str) -> None:
        self.resource = resource
        super().__init__(
            f"{resource}: the checkpoint of the pass in progress cannot be read ({why}); run "
            f"`syncd backfill --restart --resources {resource}` to start that pass again "
            "(the mirror's rows stay)"
        )


class PageTokensRefused(Exception):
    """The API refused a resource's page token twice in one run, the second time on a walk that
    had restarted from its first page: its pass fails, the job's other resources still run.
    ``str()`` is one line naming the resource, the code and what to do (never a token)."""

    def __init__(self, resource: str, code: str) -> None:
        self.resource = resource
        self.code = code
        super().__init__(
            f"{resource}: SmartRecruiters refused the walk's page token again ({code}) after the "
            "walk had restarted from the first page in this run: the pass stopped, the next run "
            "restarts its walk. If every run ends so, something between "
            "syncd and SmartRecruiters changes the page tokens (a proxy rewriting query strings) "
            "or the API is failing: check those, then run `syncd sync --once`"
        )


def dump(paginator: Paginator, ckpt: Checkpoint) -> str:
    if isinstance(ckpt, WalkCheckpoint):
        body: dict[str, Any] = {"v": VERSION, "phase": "walk", **paginator.dump(ckpt.position)}
    else:
        body = {
            "v": VERSION,
            "phase": "followups",
            "done": list(ckpt.done),
            "incomplete": ckpt.incomplete,
        }
    if ckpt.seen_from is not None:  # absent otherwise: the checkpoints of earlier versions
        body["seen_from"] = ckpt.seen_from.isoformat()
    return orjson.dumps(body).decode()


def _seen_from(body: dict[str, Any]) -> datetime | None:
    raw = body.get("seen_from")
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is not None:
        raise CheckpointError("'seen_from' is not a time")
    return when


def load(resource: str, paginator: Paginator, text: str | None) -> Checkpoint | None:
    """The checkpoint stored as ``text`` (None: the walk has not committed a page yet).
    Raises UnreadableCheckpoint."""
    if text is None:
        return None
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise UnreadableCheckpoint(resource, "not a syncd checkpoint") from None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        version = body.get("v") if isinstance(body, dict) else None
        raise UnreadableCheckpoint(resource, f"written in checkpoint version {version!r}")
    phase = body.get("phase")
    try:
        if phase == "walk":
            return WalkCheckpoint(paginator.load(body), _seen_from(body))
        if phase == "followups":
            done = body.get("done")
            why = body.get("incomplete")
            if not isinstance(done, list) or not all(isinstance(d, str) for d in done):
                raise CheckpointError("'done' is not a list of follow-up names")
            if why is not None and not isinstance(why, str):
                raise CheckpointError("'incomplete' is not a reason")
            return FollowUpsCheckpoint(tuple(done), why, _seen_from(body))
    except CheckpointError as exc:
        raise UnreadableCheckpoint(resource, str(exc)) from None
    raise UnreadableCheckpoint(resource, f"unknown phase {phase!r}")
