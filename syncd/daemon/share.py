"""The share rule: how N replicas spread M tenants between them with nothing but the per-tenant
locks and a count of live replicas (``syncd.mirror.members``). Pure functions; docs/daemon.md,
"Scale-out".

- Each replica leads at most its fair share ``ceil(M / R)`` tenants, R = live replicas. Since
  ``R * ceil(M / R) >= M``, replicas that each fill up to their share lead every tenant.
- Below its share, a replica takes free tenants (nobody holds their locks), its most preferred
  first. Above it (a replica joined, so the share fell), it hands back the surplus, its least
  preferred first, but only once it has been above its share for ``HAND_BACK_AFTER``
  consecutive checks (hysteresis: a replica that flickers in and out of the count moves
  nothing).
- Preference is rendezvous hashing of (tenant, replica id): every replica computes the same
  scores, so a tenant one replica hands back is, more often than not, one another prefers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

# Checks (leader_check_seconds each) a replica stays above its share before it hands back.
HAND_BACK_AFTER = 2


def fair_share(tenants: int, replicas: int) -> int:
    """``ceil(tenants / replicas)``; ``replicas`` below 1 counts as 1 (this replica itself)."""
    return -(-tenants // max(1, replicas))


def preference(tenant: str, replica: int) -> int:
    """The rendezvous score of a replica for a tenant (higher: more preferred), 64 bits."""
    digest = hashlib.sha256(f"{tenant}|{replica}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Moves:
    take: tuple[str, ...]  # free tenants to try to lead, most preferred first
    room: int  # how many of ``take`` to lead (try the next when one is taken meanwhile)
    hand_back: tuple[str, ...]  # led tenants to release


def plan(
    tenants: Iterable[str],
    me: int,
    replicas: int,
    leading: Iterable[str],
    held: Iterable[str],
    over_checks: int,
) -> Moves:
    """What this replica (id ``me``) should do at one check. ``replicas``: live replicas
    (this one included); ``leading``: the tenants it leads; ``held``: tenants whose locks
    anyone holds (its own included); ``over_checks``: consecutive checks it has been above its
    share, this one included."""
    names = sorted(set(tenants))
    mine = sorted(set(leading))
    share = fair_share(len(names), replicas)

    def score(t: str) -> int:
        return preference(t, me)

    if len(mine) > share:
        if over_checks < HAND_BACK_AFTER:
            return Moves((), 0, ())
        surplus = sorted(mine, key=score)[: len(mine) - share]
        return Moves((), 0, tuple(surplus))
    taken = set(held) | set(mine)
    free = sorted((t for t in names if t not in taken), key=score, reverse=True)
    room = share - len(mine)
    return Moves(tuple(free) if room else (), room, ())
