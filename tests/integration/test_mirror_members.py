"""Membership of ``syncd run`` replicas on a real PostgreSQL (``syncd.mirror.members``): replicas
count each other only when they serve the same set of tenants."""

from __future__ import annotations

from sqlalchemy import Engine

from syncd.mirror.members import Membership, member_space


def test_the_member_space_follows_the_schema_and_the_set_of_tenants() -> None:
    assert member_space("syncd", ["acme_us", "acme_eu"]) == member_space(
        "syncd", ["acme_eu", "acme_us"]
    )
    assert member_space("syncd", ["acme_eu", "acme_us"]) != member_space("syncd", ["default"])
    assert member_space("syncd", ["default"]) != member_space("other", ["default"])
    assert all(0 < member_space("syncd", [t]) < 2**31 for t in ("a", "b", "default"))


def test_replicas_of_another_tenant_set_are_not_counted(pg: tuple[str, Engine]) -> None:
    """Two replicas still on the ``default`` tenant and one with ``[tenants]`` acme_eu and
    acme_us: the latter counts one live replica, so its share ceil(2 / 1) covers both its tenants
    (counted with the other two, ceil(2 / 3) = 1 left acme_eu without a leader)."""
    url, _ = pg
    olds = [Membership(url, ["default"]) for _ in range(2)]
    new = Membership(url, ["acme_eu", "acme_us"])
    try:
        for m in (*olds, new):
            m.join()
        seen_new = new.view(["acme_eu", "acme_us"])
        assert seen_new.members == (new.id,)
        seen_old = olds[0].view(["default"])
        assert seen_old.members == tuple(sorted(m.id for m in olds if m.id is not None))
        assert len(seen_old.members) == 2 and seen_new.held == frozenset()
    finally:
        for m in (*olds, new):
            m.close()
