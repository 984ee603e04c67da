"""What one HRIS sandbox holds: employees (records keyed by the vendor's own field names),
credentials with their permissions, issued bearer tokens, webhooks and their deliveries."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Credential:
    """Who is calling. ``key`` names the credential (the API key or the client id) for limits and
    stats; ``scopes`` are the permissions it was granted (vendor scope names)."""

    key: str
    scopes: frozenset[str]
    secret: str = field(default="", repr=False)


@dataclass
class Token:
    credential: Credential
    expires_at: float  # time.time() seconds


@dataclass
class EmployeeStore:
    """Employees by integer id in creation order. Ids are never reused, also across deletions."""

    employees: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        record = {**record, "id": self.next_id}
        self.employees[self.next_id] = record
        self.next_id += 1
        return record

    def get(self, employee_id: int | str) -> dict[str, Any] | None:
        try:
            return self.employees.get(int(employee_id))
        except (TypeError, ValueError):
            return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.employees.values())

    def __len__(self) -> int:
        return len(self.employees)

    def find(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [e for e in self.employees.values() if pred(e)]


def today() -> dt.date:
    """The sandbox's calendar day (UTC), against which hire dates are "future" or "past"."""
    return dt.datetime.now(dt.UTC).date()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def parse_date(value: object) -> dt.date | None:
    """``YYYY-MM-DD`` -> date, anything else -> None."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def expired(token: Token) -> bool:
    return time.time() >= token.expires_at
