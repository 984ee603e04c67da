"""Sink types by name, from the entry-point group ``syncd.sinks`` (syncd's own ``webhook`` and
``files`` are registered the same way in pyproject.toml). A package adds a sink with::

    [project.entry-points."syncd.sinks"]
    mytarget = "mypackage.sink:MySink"     # a syncd.sinks.base.Sink subclass
"""

from __future__ import annotations

from importlib.metadata import entry_points

from syncd.sinks.base import Sink, SinkError

GROUP = "syncd.sinks"


def available() -> dict[str, str]:
    """Type name -> ``module:Class`` of every installed sink (nothing imported)."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def sink_class(type_name: str) -> type[Sink]:
    """The class registered as ``type_name``; SinkError naming the installed types otherwise."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == type_name]
    if not found:
        known = ", ".join(sorted(available())) or "none"
        raise SinkError(
            f"unknown sink type {type_name!r}; installed: {known} (a package adds one through "
            f"the entry-point group {GROUP!r})"
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
