"""The configured sinks, built and checked: ``[sinks.NAME]`` tables plus their mapping files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.delivery.mapping import Mapping, MappingError, load_mapping
from syncd.sinks.base import Sink, SinkError
from syncd.sinks.config import SinkConfig, SinkOrigin, build_sink


@dataclass
class ConfiguredSink:
    name: str
    config: SinkConfig
    sink: Sink
    mapping: Mapping | None


def configure(
    tables: dict[str, dict[str, Any]],
    *,
    only: str | None = None,
    origin: SinkOrigin | None = None,
) -> list[ConfiguredSink]:
    """Every sink of the settings (or the one named ``only``), in name order. ``origin``
    (``Settings.sink_origin``) says where each key was given, for ``build_sink``. Raises
    SinkError with every problem found, one per line (bad keys, unknown type, unreadable secret,
    mapping errors with file and line)."""
    if only is not None and only not in tables:
        known = ", ".join(sorted(tables)) or "none configured"
        raise SinkError(f"no sink named {only!r} (sinks: {known}); add a [sinks.{only}] table")
    out: list[ConfiguredSink] = []
    problems: list[str] = []
    for name in sorted(tables):
        if only is not None and name != only:
            continue
        try:
            cfg, sink = build_sink(name, tables[name], origin)
        except SinkError as exc:
            problems.append(str(exc))
            continue
        mapping = None
        source = cfg.mapping if cfg.mapping is not None else sink.default_mapping
        if source is not None:
            try:
                mapping = load_mapping(source, targets=sink.fields)
            except MappingError as exc:
                problems.append(f"sinks.{name}.mapping: {exc}")
                continue
        out.append(ConfiguredSink(name, cfg, sink, mapping))
    if problems:
        raise SinkError("\n".join(problems))
    return out
