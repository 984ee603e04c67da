"""The share rule of syncd run's replicas (syncd.daemon.share): fair share, taking free
tenants, handing back a surplus only after the hysteresis, and replicas that agree; and the
several tenants' /metrics exposition."""

from __future__ import annotations

import itertools

from syncd.daemon.share import HAND_BACK_AFTER, fair_share, plan, preference

NAMES = [f"t{i}" for i in range(6)]


def test_fair_share_is_the_ceiling() -> None:
    assert [fair_share(6, r) for r in (0, 1, 2, 3, 4, 6, 7)] == [6, 6, 3, 2, 2, 1, 1]
    assert fair_share(3, 2) == 2 and fair_share(0, 3) == 0


def test_below_the_share_take_free_tenants_most_preferred_first() -> None:
    moves = plan(NAMES, me=7, replicas=3, leading=["t0"], held=["t0", "t1", "t2"], over_checks=0)
    assert moves.hand_back == () and moves.room == 1
    free = ["t3", "t4", "t5"]
    assert moves.take == tuple(sorted(free, key=lambda t: preference(t, 7), reverse=True))
    at_share = plan(NAMES, me=7, replicas=3, leading=["t0", "t1"], held=NAMES, over_checks=0)
    assert at_share.take == () and at_share.room == 0


def test_above_the_share_hand_back_only_after_the_hysteresis() -> None:
    mine = NAMES[:4]  # a third replica joined: the share fell from 3 to 2
    early = plan(NAMES, me=5, replicas=3, leading=mine, held=NAMES, over_checks=1)
    assert early.hand_back == () and early.take == ()
    late = plan(NAMES, me=5, replicas=3, leading=mine, held=NAMES, over_checks=HAND_BACK_AFTER)
    assert late.hand_back == tuple(sorted(mine, key=lambda t: preference(t, 5))[:2])


def test_replicas_that_follow_the_rule_lead_every_tenant_once() -> None:
    """Simulated checks in every order: from one replica leading all six, two more join;
    the fleet settles with each tenant led once and each replica within its share."""
    for order in itertools.permutations([11, 22, 33]):
        leading = {11: set(NAMES), 22: set(), 33: set()}
        over = dict.fromkeys(leading, 0)
        for _ in range(6):
            for me in order:
                held = set().union(*leading.values())
                share = fair_share(len(NAMES), 3)
                over[me] = over[me] + 1 if len(leading[me]) > share else 0
                m = plan(NAMES, me, 3, leading[me], held, over[me])
                leading[me] -= set(m.hand_back)
                leading[me] |= set(m.take[: m.room])
        assert sorted(len(v) for v in leading.values()) == [2, 2, 2]
        assert set().union(*leading.values()) == set(NAMES)


def test_several_tenants_metrics_carry_a_tenant_label() -> None:
    """/metrics with [tenants]: each tenant's series labelled with it, families merged, the
    exposition parsed back by prometheus-client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    from syncd.daemon.http import tenant_exposition
    from syncd.daemon.metrics import PrometheusObserver

    a, b = PrometheusObserver(), PrometheusObserver()
    a.api_call("candidates", 200)
    a.api_call("candidates", 200)
    b.api_call("candidates", 429)
    a.leader("acme", True)
    b.leader("beta", False)
    text = tenant_exposition({"acme": a.registry, "beta": b.registry}).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    calls = "syncd_api_calls_total"
    assert samples[(calls, (("group", "candidates"), ("status", "200"), ("tenant", "acme")))] == 2
    assert samples[(calls, (("group", "candidates"), ("status", "429"), ("tenant", "beta")))] == 1
    assert samples[("syncd_api_throttled_total", (("tenant", "beta"),))] == 1
    assert samples[("syncd_leader", (("tenant", "acme"),))] == 1
    assert samples[("syncd_leader", (("tenant", "beta"),))] == 0
    assert text.count("# TYPE syncd_api_calls_total counter") == 1
