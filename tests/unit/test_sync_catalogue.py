"""The catalogue's declarations as the engine reads them: order from declared needs, flags per
table, event rules, id forms, the list shapes of records read by id, and "404 means absent"."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from syncd.ats import absent_ok
from syncd.ats.errors import NotFoundError, ServerError
from syncd.mirror import schema as s
from syncd.mirror.store import UpsertResult
from syncd.sync import catalogue as cat
from syncd.sync.changes import change_records


@dataclass(frozen=True)
class Item:
    name: str
    needs: tuple[str, ...] = ()


def names(items: list[Any]) -> list[str]:
    return [i.name for i in items]


def test_order_comes_from_needs_then_declaration_order() -> None:
    items = [Item("d", ("b",)), Item("a"), Item("b", ("a",)), Item("c")]
    assert names(cat.ordered(items, lambda i: i.needs)) == ["a", "c", "b", "d"]
    with pytest.raises(ValueError, match="x needs 'y', which is not declared"):
        cat.ordered([Item("x", ("y",))], lambda i: i.needs)
    with pytest.raises(ValueError, match="cycle"):
        cat.ordered([Item("p", ("q",)), Item("q", ("p",))], lambda i: i.needs)


def test_the_run_and_follow_up_order_of_the_catalogue() -> None:
    assert names(list(cat.CATALOGUE)) == ["jobs", "audit", "candidates", "offers"]
    followups = names(cat.followup_order(cat.CANDIDATES))
    assert followups.index("application_interviews") > followups.index("application_histories")
    assert names(cat.followup_order(cat.OFFERS)) == ["offer_rechecks", "offer_approvals"]


def test_flags_are_set_on_the_declared_tables() -> None:
    assert cat.flags_of(s.jobs) == {"approval_pending": True}
    assert cat.flags_of(s.candidates) == {"details_pending": True}
    assert cat.flags_of(s.offers) == {"approval_pending": True}
    assert cat.flags_of(s.applications) == {
        "details_pending": True,
        "history_pending": True,
        "interviews_pending": True,
    }
    assert cat.flags_of(s.audit_events) is None


def test_event_rules() -> None:
    def app(status: str) -> dict[str, Any]:
        return {"candidate_id": "c", "job_id": "j", "status": status}

    moved = UpsertResult(updated=[(app("OFFERED"), app("HIRED"))])
    got = [(c.key, c.kind, c.data) for c in change_records("applications", moved, full=False)]
    assert got == [
        ("c/j", "updated", {"status": "HIRED", "changed": {"status": ["OFFERED", "HIRED"]}}),
        ("c/j", "status_changed", {"from": "OFFERED", "to": "HIRED"}),
        ("c/j", "hired", None),
    ]
    undone = UpsertResult(updated=[(app("HIRED"), app("WITHDRAWN"))])
    got = [(c.kind, c.data) for c in change_records("applications", undone, full=False)][1:]
    assert got == [
        ("status_changed", {"from": "HIRED", "to": "WITHDRAWN"}),
        ("hire_revoked", {"from": "HIRED", "to": "WITHDRAWN"}),
    ]
    new_hire = UpsertResult(inserted=[app("HIRED")])
    kinds = [c.kind for c in change_records("applications", new_hire, full=False)]
    assert kinds == ["created", "hired"]  # a hire first seen is still a hire
    assert [c.kind for c in change_records("applications", new_hire, full=True)] == ["created"]
    offer = {"id": "o", "status": "ACCEPTED"}
    accepted = UpsertResult(updated=[({**offer, "status": "PENDING_ACCEPTANCE"}, offer)])
    assert [c.kind for c in change_records("offers", accepted, full=False)] == [
        "updated",
        "offer_accepted",
    ]
    member = {"job_id": "j", "user_id": "u", "role": "RECRUITER"}
    team = change_records("hiring_team", UpsertResult(inserted=[member]), full=False)
    assert [(c.key, c.kind) for c in team] == [("j/u", "created")]


def test_every_record_has_a_read_by_id_or_says_why_not() -> None:
    found = cat.refreshable()
    why = cat.no_get_reasons()
    names = {r.name for r in cat.CATALOGUE} | {c.name for r in cat.CATALOGUE for c in r.children}
    # "approvals" is read by id as job_approvals and offer_approvals (one table, two parents).
    assert names - {"approvals"} <= set(found) | {n for n, w in why.items() if w}
    assert {"job_approvals", "offer_approvals"} <= set(found)
    assert set(found).isdisjoint(n for n, w in why.items() if w)


def test_get_by_id_forms() -> None:
    found = cat.refreshable()
    assert "audit" not in found and cat.AUDIT.no_get
    offers = found["offers"][2]
    assert offers.check_id("c/j/o") is None
    assert offers.check_id("o") == "'o' is not of the form CANDIDATE_ID/JOB_ID/OFFER_ID"
    assert offers.check_id("c//o") is not None
    assert found["jobs"][2].check_id(" j") is not None
    # A control character, a blank inside, or what would change the request's path or query.
    for bad in ("a\x00b", "a b", "a\u200bb", "j?x=1", "j#x", "j%2F", "j\\k"):
        assert found["jobs"][2].check_id(bad) is not None, bad
    assert found["jobs"][2].check_id("3f2b9c1e-7d4a-4c55-9e0f-1a2b3c4d5e6f") is None
    assert found["hiring_team"][1] is not None  # a child, written through its parent's path


def test_records_read_by_id_are_cut_to_their_list_shape() -> None:
    job = {"id": "j", "title": "T", "jobAd": {"sections": {}}, "creator": {"id": "u"}}
    assert cat._job_as_listed(job) == {"id": "j", "title": "T"}
    cand = {
        "id": "c",
        "firstName": "Ada",
        "phoneNumber": "+1",
        "web": {},
        "education": [],
        "experience": [],
        "primaryAssignment": {
            "job": {"id": "j", "title": "T", "actions": {}},
            "status": "HIRED",
            "startsOn": "2024-01-01T00:00:00Z",
            "source": "LinkedIn",
        },
        "secondaryAssignments": [{"job": {"id": "k"}, "status": "NEW", "subStatus": None}],
    }
    assert cat._candidate_as_listed(cand) == {
        "id": "c",
        "firstName": "Ada",
        "primaryAssignment": {"job": {"id": "j", "title": "T", "actions": {}}, "status": "HIRED"},
        "secondaryAssignments": [{"job": {"id": "k"}, "status": "NEW"}],
    }


def test_absent_ok() -> None:
    async def fails(exc: Exception) -> Any:
        raise exc

    def gone(code: str) -> NotFoundError:
        return NotFoundError("x", status=404, errors=[{"code": code}])

    async def go() -> None:
        async def fine() -> int:
            return 1

        assert await absent_ok(fine()) == 1
        assert await absent_ok(fails(gone("APPROVALS_NOT_FOUND"))) is None
        got = await absent_ok(fails(gone("CANDIDATE_NOT_FOUND")), codes=("CANDIDATE_NOT_FOUND",))
        assert got is None
        with pytest.raises(NotFoundError):  # a 404 without the record's own code proves nothing
            await absent_ok(fails(gone("NOT_FOUND")), codes=("CANDIDATE_NOT_FOUND",))
        with pytest.raises(ServerError):
            await absent_ok(fails(ServerError("boom", status=500)))

    asyncio.run(go())


def _spec_paths(shared: Any) -> set[str]:
    import re

    from tests.spec import SPEC, load_spec

    return {re.sub(r"\{[^}]+\}", "{}", p) for p in load_spec(shared / SPEC)["paths"]}


def _declared_paths() -> list[tuple[str, str]]:
    """(what, path) of every declared path that names one API operation."""
    import re

    out = []
    for r in cat.CATALOGUE:
        out.append((r.name, r.path))
        if r.get is not None:
            out.append((f"{r.name} get", r.get.path))
        for c in r.children:
            out.append((c.name, c.path))
            if c.get is not None:
                out.append((f"{c.name} get", c.get.path))
    plain = [(w, p.split("?")[0]) for w, p in out if p.startswith("/") and " " not in p]
    return [(w, re.sub(r"\{[^}]+\}", "{}", p)) for w, p in plain]


def test_declarations_are_consistent() -> None:
    """What the engine derives from the declarations holds together: keys are the tables'
    primary keys, and every column a declaration names exists."""
    from syncd.mirror.store import key_columns
    from syncd.sync.engine import Engine

    for r in cat.CATALOGUE:
        assert r.key == tuple(c.name for c in key_columns(r.table)), r.name
        for f in r.followups:
            if f.method is not None:
                assert callable(getattr(Engine, f.method, None)), (r.name, f.method)
            else:
                assert any(c.name == f.name and c.fetch == "followup" for c in r.children)
        if r.writer:
            assert callable(getattr(Engine, r.writer, None)), (r.name, r.writer)
        for cascade in cat.cascades(r):
            assert cascade.column in cascade.table.c, (r.name, cascade.table.name)
            for col in (*cascade.clear, *(k for k, _ in cascade.where)):
                assert col in cascade.table.c, (r.name, cascade.table.name, col)
        for col in r.delete.clear:
            assert col in r.table.c, (r.name, col)
        for c in r.children:
            flagged = c.flag_on if c.flag_on is not None else r.table
            if c.flag:
                assert c.flag in flagged.c, (c.name, c.flag)
            if c.parent_column:
                assert c.parent_column in c.table.c, (c.name, c.parent_column)
            if c.fetch in ("page", "followup"):
                assert c.call is not None and c.rows is not None, c.name
            if c.fetch == "followup":
                assert c.flag, c.name


def test_declared_paths_are_api_operations(shared_dir: Any) -> None:
    """A declared path with a typo fails here (the spec is the API's own description)."""
    known = _spec_paths(shared_dir)
    wrong = [(what, path) for what, path in _declared_paths() if path not in known]
    assert not wrong, wrong
