"""Sinks found through the entry-point group ``syncd.sinks``: a tiny sink package (a temporary
dist-info on PYTHONPATH) is listed, checked and fed by ``syncd push --once`` in a real
subprocess; bad ``[sinks.NAME]`` tables give one line naming the key, exit 2."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from syncd.delivery.dispatcher import push_once
from syncd.delivery.sinks import ConfiguredSink
from syncd.mirror import schema as s
from syncd.mirror.store import Change, Mirror, utcnow
from syncd.sandbox.runner import ThreadServer
from syncd.sinks.base import Capability, Delivery, Outcome, Sink, SinkSettings
from syncd.sinks.config import SinkConfig
from tests.integration.push_env import push_env, syncd_run, write_config
from tests.integration.test_mirror_sync import TENANT, control, run_pass, settings_for
from tests.integration.test_push_webhook import candidates_to_hire, tenant

_ = tenant

TINY = """
from syncd.sinks.base import Capability, Outcome, Sink, SinkSettings
import json


class TinySettings(SinkSettings):
    path: str


class TinySink(Sink):
    type = "tiny"
    capabilities = frozenset({Capability.CREATE})
    settings_model = TinySettings
    fields = frozenset({"key", "email"})

    async def check(self):
        return []

    async def create_or_match(self, delivery):
        with open(self.settings.path, "a") as f:
            f.write(json.dumps({"id": delivery.delivery_id, "data": delivery.data}) + "\\n")
        return Outcome("accepted", target_id="t-" + delivery.external_key)
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "tinysink").mkdir(parents=True)
    (root / "tinysink" / "__init__.py").write_text(textwrap.dedent(TINY))
    dist = root / "tinysink-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinysink\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[syncd.sinks]\ntiny = tinysink:TinySink\n")
    return root


def test_a_separate_package_adds_a_sink(
    plugin: Path, tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path
) -> None:
    out_file = tmp_path / "tiny.jsonl"
    mapping = tmp_path / "tiny.toml"
    mapping.write_text('[fields]\nkey = "external_key"\nemail = "candidate.email"\n')
    cfg = write_config(
        tmp_path,
        {"people": {"type": "tiny", "path": str(out_file), "mapping": str(mapping)}},
    )
    env = push_env(tenant, db_url, cfg)
    env["PYTHONPATH"] = str(plugin)
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")

    listed = syncd_run(env, "sinks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert doc["installed_types"]["tiny"] == "tinysink:TinySink"
    assert doc["installed_types"]["webhook"] == "syncd.sinks.webhook:WebhookSink"
    assert [(s["name"], s["type"], s["capabilities"]) for s in doc["sinks"]] == [
        ("people", "tiny", ["create"])
    ]
    checked = syncd_run(env, "sinks", "check", "people")
    assert checked.returncode == 0, checked.stderr
    assert "people: configuration ok" in checked.stdout

    assert syncd_run(env, "push", "--once").returncode == 0
    app = candidates_to_hire(tenant, 1)[0]
    control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
    run_pass(st, db, "incremental")
    pushed = syncd_run(env, "push", "--once")
    assert pushed.returncode == 0, pushed.stderr
    lines = [json.loads(x) for x in out_file.read_text().splitlines()]
    email = tenant.sandbox.tenant.candidates[app["candidateId"]]["email"]
    assert [x["data"] for x in lines] == [{"key": f"sr-{app['id']}", "email": email}]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"type": "webhook", "secret_file": "SECRET_FILE"}, "sinks.hr.url: required"),
        (
            {"type": "webhook", "url": "http://x/h", "secret_file": "SECRET_FILE", "colour": "r"},
            "sinks.hr.colour: unknown setting",
        ),
        ({"type": "nope"}, "sinks.hr.type: unknown sink type 'nope'; installed: bamboohr"),
        ({"type": "webhok"}, "sinks.hr.type: unknown sink type 'webhok' (did you mean webhook?)"),
        (
            {"type": "webhook", "url": "http://x/h", "secret_file": "/nonexistent/secret"},
            "sinks.hr.secret_file: cannot read '/nonexistent/secret'",
        ),
        ({"type": "webhook", "url": "http://x/h"}, "secret_file is required"),
        (
            {"type": "webhook", "url": "http://x/h", "secret_file": "SECRET_FILE", "start": "soon"},
            "sinks.hr.start: must be now, beginning or an ISO date",
        ),
        (
            {
                "type": "webhook",
                "url": "http://x/h",
                "secret_file": "SECRET_FILE",
                "mapping": "MAPPING",
            },
            "m.toml:2: unknown canonical path 'candidate.nmae'",
        ),
    ],
)
def test_bad_sink_tables_name_the_key(
    tmp_path: Path, db_url: str, table: dict[str, str], message: str
) -> None:
    m = tmp_path / "m.toml"
    m.write_text('[fields]\nname = "candidate.nmae"\n')
    table = {k: (str(m) if v == "MAPPING" else v) for k, v in table.items()}
    cfg = write_config(tmp_path, {"hr": table})
    env = {"SYNCD_CONFIG": str(cfg), "SYNCD_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    for args in (("sinks", "check", "hr"), ("push", "--once")):
        out = syncd_run(env, *args)
        assert out.returncode == 2, out.stderr
        assert message in out.stderr
        assert "Traceback" not in out.stderr


class _Raising(Sink):
    type = "raising"

    async def check(self) -> list[str]:
        return []

    async def create_or_match(self, delivery: Delivery) -> Outcome:
        raise RuntimeError("a bug in the sink")


def seed_hires(db: Engine, n: int) -> None:
    m = Mirror(db, TENANT)
    now = utcnow()
    rows = [
        {"candidate_id": f"c{i}", "job_id": "j", "application_id": f"a{i}", "status": "HIRED",
         "history_pending": False, "details_pending": False, "raw": {"i": i},
         "content_hash": str(i)}
        for i in range(n)
    ]  # fmt: skip
    with m.begin() as conn:
        m.upsert(conn, s.applications, rows, now=now)


def test_a_sink_that_raises_gives_dead_letters_not_a_stuck_pass(db: Engine) -> None:
    seed_hires(db, 2)
    cfg = SinkConfig(type="raising", start="beginning", max_attempts=2, retry_initial_seconds=0)
    cs = ConfiguredSink("bad", cfg, _Raising("bad", SinkSettings(), None), None)
    # One attempt per delivery and pass, and a pass ends at the first failed attempt (the rest
    # held, no attempt counted); retry_initial_seconds = 0: due again at the next pass.
    reports = [asyncio.run(push_once(db, TENANT, [cs], write_back=None))[0] for _ in range(4)]
    assert [(r.sent, r.retrying, r.held, r.dead, r.errors) for r in reports] == [
        (1, 1, 1, 0, []),
        (1, 0, 1, 1, []),
        (1, 1, 0, 0, []),
        (1, 0, 0, 1, []),
    ]
    with db.connect() as conn:
        rows = conn.execute(
            select(s.deliveries.c.state, s.deliveries.c.attempts, s.deliveries.c.reason)
        ).all()
    assert sorted(rows) == [("dead", 2, "the sink raised RuntimeError")] * 2


class _Recording(Sink):
    type = "recording"
    capabilities = frozenset({Capability.CREATE, Capability.REVOKE})

    def __init__(self, name: str, settings: SinkSettings, secret: object) -> None:
        super().__init__(name, settings, None)
        self.got: list[tuple[str, str]] = []

    async def check(self) -> list[str]:
        return []

    async def create_or_match(self, delivery: Delivery) -> Outcome:
        self.got.append((delivery.event_type, delivery.external_key))
        return Outcome("accepted", target_id="t1")

    async def revoke(self, delivery: Delivery) -> Outcome:
        return await self.create_or_match(delivery)


def test_an_offer_withdrawn_after_delivery_revokes_the_hire(db: Engine) -> None:
    """The accepted offer of a delivered hire changes status (withdrawn): the sink that had the
    hire receives application.hire_revoked, once."""
    seed_hires(db, 1)
    m = Mirror(db, TENANT)
    now = utcnow()
    with m.begin() as conn:
        m.upsert(
            conn,
            s.offers,
            [{"id": "o1", "candidate_id": "c0", "job_id": "j", "status": "ACCEPTED",
              "raw": {"id": "o1"}, "content_hash": "x"}],
            now=now,
        )  # fmt: skip
    sink = _Recording("r", SinkSettings(), None)
    cs = ConfiguredSink("r", SinkConfig(type="recording", start="beginning"), sink, None)
    asyncio.run(push_once(db, TENANT, [cs], write_back=None))
    assert sink.got == [("application.hired", "sr-a0")]
    with m.begin() as conn:
        m.emit(
            conn,
            [Change("offers", "o1", "updated",
                    {"status": "ABANDONED", "changed": {"status": ["ACCEPTED", "ABANDONED"]}})],
            run_id="r1",
            now=now,
        )  # fmt: skip
    asyncio.run(push_once(db, TENANT, [cs], write_back=None))
    asyncio.run(push_once(db, TENANT, [cs], write_back=None))
    assert sink.got == [("application.hired", "sr-a0"), ("application.hire_revoked", "sr-a0")]
