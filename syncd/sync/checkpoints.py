"""The typed checkpoint of a pass in progress, one form per phase, stored as JSON in
``sync_state.pass_page``:

- ``WalkCheckpoint``: the list walk is under way; the position is the resource paginator's own
  form (a page token with the records received and the first page's total, or an offset with
  the total), so that one phase's marker can never be read as another's token;
- ``FollowUpsCheckpoint``: the walk is over (complete, or incomplete with its reason); the
  follow-ups named in ``done`` are finished, the others are owed.

A pass with no checkpoint yet (``pass_page`` NULL) starts its walk at the first page. Anything
else (not JSON, another version, another paging style) is a ``CheckpointError`` whose message
names the resource and the fix (``syncd backfill --restart --resources NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from syncd.ats.paging import CheckpointError, Paginator, Position

VERSION = 1


@dataclass(frozen=True)
class WalkCheckpoint:
    position: Position


@dataclass(frozen=True)
class FollowUpsCheckpoint:
    done: tuple[str, ...] = ()
    incomplete: str | None = None  # why the walk could not prove it saw every record


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
    return orjson.dumps(body).decode()


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
            return WalkCheckpoint(paginator.load(body))
        if phase == "followups":
            done = body.get("done")
            why = body.get("incomplete")
            if not isinstance(done, list) or not all(isinstance(d, str) for d in done):
                raise CheckpointError("'done' is not a list of follow-up names")
            if why is not None and not isinstance(why, str):
                raise CheckpointError("'incomplete' is not a reason")
            return FollowUpsCheckpoint(tuple(done), why)
    except CheckpointError as exc:
        raise UnreadableCheckpoint(resource, str(exc)) from None
    raise UnreadableCheckpoint(resource, f"unknown phase {phase!r}")
