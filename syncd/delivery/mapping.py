"""Mappings from the canonical new-hire record to a target's fields: ``config/mappings/NAME.toml``.

```toml
[fields]
employeeNumber = "external_key"                                   # target <- canonical path
department = { path = "job.department", map = "departments", default = "0" }
hireDate = { path = "offer.start_date", date_format = "%d/%m/%Y" }
origin = { value = "SmartRecruiters" }                           # a constant

[maps.departments]
"Engineering" = "17"
```

A dotted target (``employee.first_name``) nests. Checked when loaded, before anything is sent:
an unknown canonical path (per ``schemas/new_hire.schema.json``), a target the sink does not
take, an unknown map or option raises :class:`MappingError` naming the file and the line.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMAS = "syncd.delivery.schemas"
OPTIONS = frozenset(("path", "value", "map", "default", "date_format"))


class MappingError(Exception):
    """A mapping file is unreadable or names something unknown: ``FILE:LINE: what; the fix``."""


def load_schema(name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(resources.files(SCHEMAS).joinpath(name).read_text())
    return out


@functools.cache
def canonical_paths() -> dict[str, str]:
    """Every path of the new-hire record with its kind (``date``, ``date-time``, ``object``,
    ``value``): ``{"candidate.first_name": "value", "offer.start_date": "date", ...}``."""
    schema = load_schema("new_hire.schema.json")
    defs = schema.get("$defs", {})
    out: dict[str, str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        props = node.get("properties")
        kind = node.get("format") or ("object" if props is not None else "value")
        if node.get("type") == "object" and props is None:
            kind = "open"  # compensation, properties: any key below is allowed
        if prefix:
            out[prefix] = kind
        for k, sub in (props or {}).items():
            walk(sub, f"{prefix}.{k}" if prefix else k)

    walk(schema, "")
    return out


def path_known(path: str) -> bool:
    paths = canonical_paths()
    if path in paths:
        return True
    parts = path.split(".")
    return any(paths.get(".".join(parts[:i])) == "open" for i in range(1, len(parts)))


@dataclass(frozen=True)
class FieldRule:
    target: str
    path: str | None
    value: Any = None
    map: str | None = None
    default: Any = None
    date_format: str | None = None


@dataclass(frozen=True)
class Mapping:
    name: str
    rules: tuple[FieldRule, ...]
    maps: dict[str, dict[str, Any]]

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The target's payload for one record."""
        out: dict[str, Any] = {}
        for rule in self.rules:
            v = rule.value if rule.path is None else get_path(record, rule.path)
            if v is not None and rule.map is not None:
                v = self.maps[rule.map].get(str(v))
            if v is not None and rule.date_format is not None:
                v = _parse_date(v).strftime(rule.date_format)
            if v is None:
                v = rule.default
            _put(out, rule.target, v)
        return out


def get_path(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _put(out: dict[str, Any], target: str, value: Any) -> None:
    *parents, last = target.split(".")
    for p in parents:
        out = out.setdefault(p, {})
    out[last] = value


def _parse_date(v: Any) -> date:
    text = str(v)
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _line_of(text: str, section: str, key: str) -> int:
    """The line of ``key = …`` inside ``[section]`` (1-based; the section's line if not found)."""
    in_section = False
    section_line = 1
    pat = re.compile(rf'^\s*("{re.escape(key)}"|\'{re.escape(key)}\'|{re.escape(key)})\s*=')
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped.strip("[] ") == section
            if in_section:
                section_line = n
            continue
        if in_section and pat.match(line):
            return n
    return section_line


def _did_you_mean(word: str, choices: list[str]) -> str:
    """``"did you mean X? "`` for the closest of ``choices`` (difflib), else ``""``."""
    from syncd.config import closest

    near = closest(word, choices)
    return f"did you mean {near!r}? " if near else ""


def load_mapping(path: Path, *, targets: frozenset[str] | None = None) -> Mapping:
    """Read and check a mapping file. ``targets``: the field names the sink takes (None: any).
    Raises MappingError with ``FILE:LINE: …``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise MappingError(
            f"{path}: cannot read the mapping ({exc.strerror}); check `mapping`"
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc})") from None
    fields = doc.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise MappingError(f"{path}:1: no [fields] table; add one line per target field")
    for extra in set(doc) - {"fields", "maps"}:
        raise MappingError(
            f"{path}:{_line_of(text, extra, '')}: unknown table [{extra}]; "
            f"{_did_you_mean(extra, ['fields', 'maps'])}use [fields] and [maps.NAME]"
        )
    maps = doc.get("maps", {})
    rules = []
    for target, spec in fields.items():
        where = f"{path}:{_line_of(text, 'fields', target)}"
        if targets is not None and target.split(".")[0] not in targets:
            raise MappingError(
                f"{where}: unknown target field {target!r} for this sink; "
                f"{_did_you_mean(target.split('.')[0], sorted(targets))}it takes: "
                + ", ".join(sorted(targets))
            )
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict):
            raise MappingError(f"{where}: {target!r} must be a canonical path or a table")
        unknown = set(spec) - OPTIONS
        if unknown:
            bad = sorted(unknown)[0]
            raise MappingError(
                f"{where}: unknown option {bad!r}; {_did_you_mean(bad, sorted(OPTIONS))}"
                f"options: {', '.join(sorted(OPTIONS))}"
            )
        src = spec.get("path")
        if src is None and "value" not in spec:
            raise MappingError(f"{where}: {target!r} needs `path` (a canonical path) or `value`")
        if src is not None and not path_known(src):
            raise MappingError(
                f"{where}: unknown canonical path {src!r} for {target!r}; "
                f"{_did_you_mean(str(src), sorted(canonical_paths()))}see "
                "docs/push.md (The new-hire record) for the paths"
            )
        m = spec.get("map")
        if m is not None and m not in maps:
            raise MappingError(f"{where}: map {m!r} is not defined; add a [maps.{m}] table")
        fmt = spec.get("date_format")
        if fmt is not None and canonical_paths().get(src or "") not in ("date", "date-time"):
            raise MappingError(f"{where}: date_format applies to date paths only, not {src!r}")
        rules.append(
            FieldRule(
                target=target,
                path=src,
                value=spec.get("value"),
                map=m,
                default=spec.get("default"),
                date_format=fmt,
            )
        )
    return Mapping(path.stem, tuple(rules), {k: dict(v) for k, v in maps.items()})
