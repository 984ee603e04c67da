"""Sink types by name, from the entry-point group ``syncd.sinks`` (syncd's own ``webhook`` and
``files`` are registered the same way in pyproject.toml). A package adds a sink with::

    [project.entry-points."syncd.sinks"]
    mytarget = "mypackage.sink:MySink"     # a syncd.sinks.base.Sink subclass
"""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from syncd.sinks.base import Sink, SinkError

GROUP = "syncd.sinks"


def available() -> dict[str, str]:
    """Type name -> ``module:Class`` of every installed sink (nothing imported)."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def sink_class(type_name: str) -> type[Sink]:
    """The class registered as ``type_name``; SinkError naming the installed types otherwise
    (and the nearest one, for a typo)."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == type_name]
    if not found:
        names = sorted(available())
        near = difflib.get_close_matches(str(type_name), names, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise SinkError(
            f"unknown sink type {type_name!r}{hint}; installed: {', '.join(names) or 'none'} "
            f"(a package adds one through the entry-point group {GROUP!r})"
        )
    try:
        cls = found[0].load()
    except Exception as exc:  # an installed plugin that fails to import
        raise SinkError(
            f"sink type {type_name!r} ({found[0].value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Sink)):
        raise SinkError(f"sink type {type_name!r} ({found[0].value}) is not a syncd Sink class")
    return cls
