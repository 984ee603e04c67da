"""Where a secret comes from and what a secret file may hold: the environment wins over the TOML
file for every sink's secret (webhook, files, bamboohr, personio) as for the SmartRecruiters
credential; two spellings from one place are refused naming both; a BOM and surrounding blanks
are dropped; a control or non-ASCII character is refused naming the setting, never the value;
an unknown key answers with the closest valid one."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from syncd.config import ConfigError, load_settings
from syncd.delivery.mapping import MappingError, load_mapping
from syncd.delivery.sinks import configure
from syncd.secret_file import SecretFileError, read_secret_file
from syncd.sinks.base import Sink, SinkError

WHSEC_TOML = "whsec_" + base64.b64encode(b"t" * 24).decode()
WHSEC_ENV = "whsec_" + base64.b64encode(b"e" * 24).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SYNCD_"):
            monkeypatch.delenv(name)


def the_secret(sink: Sink) -> str:
    """The secret a built sink will use."""
    if sink.type == "bamboohr":
        header = sink._client.auth._auth_header  # type: ignore[attr-defined]
        return base64.b64decode(header.removeprefix("Basic ")).decode().removesuffix(":x")
    if sink.type == "personio":
        return str(sink._secret.get_secret_value())  # type: ignore[attr-defined]
    assert sink.secret is not None
    return sink.secret.get_secret_value()


def secret_file(tmp: Path, name: str, content: str | bytes) -> str:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def sinks_from(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, toml: str, env: dict[str, str]
) -> dict[str, Sink]:
    cfg = tmp / "syncd.toml"
    cfg.write_text(toml)
    monkeypatch.setenv("SYNCD_CONFIG", str(cfg))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = load_settings()
    return {c.name: c.sink for c in configure(settings.sinks, origin=settings.sink_origin)}


# Each sink type: its table in the TOML file (the secret from a file) and the variable that
# gives the secret from the environment, with the value that must win.
CASES: dict[str, tuple[str, str, str]] = {
    "webhook": (
        'type = "webhook"\nurl = "http://127.0.0.1:9/x"\nsecret_file = "{toml}"\n',
        "SECRET_FILE",
        WHSEC_ENV,
    ),
    "files": (
        'type = "files"\ndirectory = "{tmp}/out"\nsecret_file = "{toml}"\n',
        "SECRET_FILE",
        "env-password",
    ),
    "bamboohr": (
        'type = "bamboohr"\nbase_url = "http://127.0.0.1:9"\napi_key_file = "{toml}"\n',
        "API_KEY",
        "env-api-key",
    ),
    "personio": (
        'type = "personio"\nclient_id = "cid"\nclient_secret_file = "{toml}"\n',
        "CLIENT_SECRET",
        "env-client-secret",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_the_environment_wins_over_the_toml_file_for_every_sink(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    table, variable, wanted = CASES[kind]
    in_file = WHSEC_TOML if kind == "webhook" else "toml-secret"
    toml = f"[sinks.hr]\n{table}".format(toml=secret_file(tmp_path, "toml", in_file), tmp=tmp_path)
    alone = sinks_from(monkeypatch, tmp_path, toml, {})
    assert the_secret(alone["hr"]) == in_file
    # The environment as a value or as a file, over the TOML file's *_file setting.
    value = wanted if not variable.endswith("_FILE") else secret_file(tmp_path, "env", wanted)
    env = sinks_from(monkeypatch, tmp_path, toml, {f"SYNCD_SINKS__HR__{variable}": value})
    assert the_secret(env["hr"]) == wanted
    if kind in ("bamboohr", "personio"):  # the file form and the common secret_file too
        monkeypatch.delenv(f"SYNCD_SINKS__HR__{variable}")
        env_file = {f"SYNCD_SINKS__HR__{variable}_FILE": secret_file(tmp_path, "env", wanted)}
        assert the_secret(sinks_from(monkeypatch, tmp_path, toml, env_file)["hr"]) == wanted
        monkeypatch.delenv(f"SYNCD_SINKS__HR__{variable}_FILE")
        common = {"SYNCD_SINKS__HR__SECRET_FILE": secret_file(tmp_path, "env", wanted)}
        assert the_secret(sinks_from(monkeypatch, tmp_path, toml, common)["hr"]) == wanted


@pytest.mark.parametrize("kind", ["bamboohr", "personio"])
def test_two_spellings_of_one_secret_from_one_place_are_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    table, variable, wanted = CASES[kind]
    key = variable.lower()
    toml = f"[sinks.hr]\n{table}".format(toml=secret_file(tmp_path, "toml", "toml-secret"))
    with pytest.raises(SinkError) as in_env:
        sinks_from(
            monkeypatch,
            tmp_path,
            toml,
            {
                f"SYNCD_SINKS__HR__{variable}": wanted,
                f"SYNCD_SINKS__HR__{variable}_FILE": secret_file(tmp_path, "env", wanted),
            },
        )
    what = key.replace("_", " ")
    assert str(in_env.value) == (
        f"sinks.hr: SYNCD_SINKS__HR__{variable} and SYNCD_SINKS__HR__{variable}_FILE both give "
        f"the {what}; unset one of them"
    )
    for name in list(os.environ):
        if name.startswith("SYNCD_SINKS__"):
            monkeypatch.delenv(name)
    with pytest.raises(SinkError) as in_toml:
        sinks_from(monkeypatch, tmp_path, toml + f'{key} = "{wanted}"\n', {})
    assert str(in_toml.value) == (
        f"sinks.hr: {key} and {key}_file in SYNCD_CONFIG ({tmp_path / 'syncd.toml'}) [sinks.hr] "
        f"both give the {what}; keep one of them"
    )
    for exc in (in_env, in_toml):
        assert wanted not in str(exc.value) and "toml-secret" not in str(exc.value)


def test_the_smartrecruiters_key_and_its_file_both_in_the_environment_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY", "k-env")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY_FILE", secret_file(tmp_path, "k", "k-f"))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "SYNCD_SMARTRECRUITERS__API_KEY and SYNCD_SMARTRECRUITERS__API_KEY_FILE: both set the "
        "same secret in the environment; unset one of them"
    )


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbfkey-123\n",  # Notepad's BOM
        b"key-123\r\n",
        b"\xc2\xa0 key-123\xc2\xa0\n",  # non-breaking spaces pasted from a web page
        b"\t\xe2\x80\x83key-123  \n\n",  # an em space
    ],
)
def test_a_bom_and_surrounding_blanks_are_dropped(tmp_path: Path, content: bytes) -> None:
    path = secret_file(tmp_path, "key", content)
    assert read_secret_file(path, "sinks.hr.api_key_file", header=True) == "key-123"


@pytest.mark.parametrize(
    "content",
    [b"key\xe2\x80\x8b123\n", b"key\xc2\xa0123\n", b"key-123\nsecond\n", b"k\xc3\xa9y-123\n"],
)
def test_a_character_a_header_cannot_carry_is_refused_naming_the_setting(
    tmp_path: Path, content: bytes
) -> None:
    path = secret_file(tmp_path, "key", content)
    with pytest.raises(SecretFileError) as err:
        read_secret_file(path, "sinks.hr.api_key_file", header=True)
    assert str(err.value).startswith("sinks.hr.api_key_file: holds a line break or another")
    assert "123" not in str(err.value)
    # Not bound for a header (an SFTP password): kept as written inside.
    assert read_secret_file(path, "x", header=False) == content.decode().strip()


def test_every_secret_file_goes_through_the_one_reader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bom = b"\xef\xbb\xbf"
    # SmartRecruiters (SYNCD_…_FILE): BOM and NBSP dropped; a zero-width space refused.
    monkeypatch.setenv(
        "SYNCD_SMARTRECRUITERS__API_KEY_FILE", secret_file(tmp_path, "sr", bom + b"sr-1\xc2\xa0\n")
    )
    key = load_settings().smartrecruiters.api_key
    assert key is not None and key.get_secret_value() == "sr-1"
    monkeypatch.setenv(
        "SYNCD_SMARTRECRUITERS__API_KEY_FILE", secret_file(tmp_path, "sr", b"sr\xe2\x80\x8b1\n")
    )
    with pytest.raises(ConfigError, match="SYNCD_SMARTRECRUITERS__API_KEY_FILE: holds a line"):
        load_settings()
    monkeypatch.delenv("SYNCD_SMARTRECRUITERS__API_KEY_FILE")
    # Sinks: the common secret_file and a sink's own *_file.
    hook = bom + WHSEC_TOML.encode() + b"\xc2\xa0\r\n"
    table: dict[str, dict[str, Any]] = {
        "hook": {
            "type": "webhook",
            "url": "http://127.0.0.1:9/x",
            "secret_file": secret_file(tmp_path, "hook", hook),
        },
        "hr": {
            "type": "bamboohr",
            "base_url": "http://127.0.0.1:9",
            "api_key_file": secret_file(tmp_path, "hr", bom + b" bamboo-key\xc2\xa0\n"),
        },
    }
    built = {c.name: c.sink for c in configure(table)}
    assert the_secret(built["hook"]) == WHSEC_TOML
    assert the_secret(built["hr"]) == "bamboo-key"
    table["hr"]["api_key_file"] = secret_file(tmp_path, "hr", b"bamboo\xe2\x80\x8b-key\n")
    table["hook"]["secret_file"] = secret_file(tmp_path, "hook", WHSEC_TOML + "\u200b\n")
    with pytest.raises(SinkError) as err:
        configure(table)
    assert str(err.value).splitlines() == [
        "sinks.hook.secret_file: holds a line break or another control or non-ASCII character "
        "(an invisible one too, such as a zero-width space); put the secret alone on one line",
        "sinks.hr: api_key_file: holds a line break or another control or non-ASCII character "
        "(an invisible one too, such as a zero-width space); put the secret alone on one line",
    ]
    assert "bamboo" not in str(err.value) and "whsec" not in str(err.value)


def test_an_unknown_sink_key_names_the_closest_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = '[sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/x"\nsecret = "whsec_x"\n'
    with pytest.raises(SinkError) as in_file:
        sinks_from(monkeypatch, tmp_path, toml, {})
    assert str(in_file.value) == (
        "sinks.hook.secret: unknown setting; did you mean secret_file (the path of a file "
        "holding the secret)?"
    )
    toml = '[sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/x"\n'
    with pytest.raises(SinkError) as in_env:
        sinks_from(monkeypatch, tmp_path, toml, {"SYNCD_SINKS__HOOK__SECRET": "whsec_x"})
    assert "did you mean SYNCD_SINKS__HOOK__SECRET_FILE (the path" in str(in_env.value)
    for exc in (in_file, in_env):
        assert "whsec_x" not in str(exc.value)
    monkeypatch.delenv("SYNCD_SINKS__HOOK__SECRET")
    toml = '[sinks.drop]\ntype = "files"\ndirectory = "out"\nstatus_mpa = {}\nstrat = "now"\n'
    with pytest.raises(SinkError) as typos:
        sinks_from(monkeypatch, tmp_path, toml, {})
    assert "sinks.drop.strat: unknown setting; did you mean start?" in str(typos.value)


def test_a_mapping_typo_names_the_closest_option_and_path(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[fields]\nfirst = { path = "candidate.frist_name", mapp = "x" }\n')
    with pytest.raises(MappingError, match=r"unknown option 'mapp'; did you mean 'map'\?"):
        load_mapping(path)
    path.write_text('[fields]\nfirst = "candidate.frist_name"\n')
    with pytest.raises(MappingError, match=r"did you mean 'candidate.first_name'\?"):
        load_mapping(path)


def test_a_tenants_own_sinks_follow_the_same_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = (
        '[tenants.acme.smartrecruiters]\napi_key = "k"\n'
        '[tenants.acme.sinks.hr]\ntype = "bamboohr"\nbase_url = "http://127.0.0.1:9"\n'
        f'api_key_file = "{secret_file(tmp_path, "toml", "toml-secret")}"\n'
    )
    (tmp_path / "syncd.toml").write_text(toml)
    monkeypatch.setenv("SYNCD_CONFIG", str(tmp_path / "syncd.toml"))
    env_file = secret_file(tmp_path, "env", "\ufeffenv-secret\n")
    monkeypatch.setenv("SYNCD_TENANTS__ACME__SINKS__HR__API_KEY_FILE", env_file)
    one = load_settings().for_tenant("acme")
    assert one.sink_origin("hr", "api_key_file") == (
        "environment",
        "SYNCD_TENANTS__ACME__SINKS__HR__API_KEY_FILE",
    )
    built = configure(one.sinks, origin=one.sink_origin)
    assert the_secret(built[0].sink) == "env-secret"
    monkeypatch.setenv("SYNCD_TENANTS__ACME__SINKS__HR__API_KEY", "env-value")
    one = load_settings().for_tenant("acme")
    with pytest.raises(
        SinkError, match=r"^sinks\.hr: SYNCD_TENANTS__ACME__SINKS__HR__API_KEY and "
    ):
        configure(one.sinks, origin=one.sink_origin)


def test_a_sink_knows_where_its_secret_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``Sink.secret_origin``: the variable when the environment gave the secret, else the
    TOML file's key; what a refusal's fix then names (never the secret)."""
    from syncd.sinks.base import SecretOrigin

    table = CASES["bamboohr"][0]
    toml = f"[sinks.hr]\n{table}".format(toml=secret_file(tmp_path, "toml", "toml-secret"))
    cfg = f"SYNCD_CONFIG ({tmp_path / 'syncd.toml'}) [sinks.hr]"
    cases: list[tuple[dict[str, str], SecretOrigin]] = [
        ({}, SecretOrigin(f"{cfg} api_key_file", True)),
        ({"SYNCD_SINKS__HR__API_KEY": "k"}, SecretOrigin("SYNCD_SINKS__HR__API_KEY", False)),
        (
            {"SYNCD_SINKS__HR__API_KEY_FILE": secret_file(tmp_path, "env", "k")},
            SecretOrigin("SYNCD_SINKS__HR__API_KEY_FILE", True),
        ),
        (
            {"SYNCD_SINKS__HR__SECRET_FILE": secret_file(tmp_path, "env", "k")},
            SecretOrigin("SYNCD_SINKS__HR__SECRET_FILE", True),
        ),
    ]
    for env, wanted in cases:
        for name in list(os.environ):
            if name.startswith("SYNCD_SINKS__"):
                monkeypatch.delenv(name)
        sink = sinks_from(monkeypatch, tmp_path, toml, env)["hr"]
        assert sink.secret_origin == wanted
    assert cases[0][1].fix() == f"put it in the file {cfg} api_key_file names"
    assert cases[1][1].fix() == "set SYNCD_SINKS__HR__API_KEY to it"


@pytest.mark.parametrize(
    ("origin", "wanted"),
    [
        (None, "and put it in api_key_file"),
        (("environment", "SYNCD_SINKS__HR__API_KEY"), "and set SYNCD_SINKS__HR__API_KEY to it"),
    ],
)
def test_a_bamboohr_401_names_where_the_key_came_from(
    origin: tuple[str, str] | None, wanted: str
) -> None:
    import asyncio

    import httpx

    from syncd.sinks.config import build_sink

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="api"'})

    table = {"type": "bamboohr", "base_url": "http://bamboo.test", "api_key": "k-secret"}
    _, sink = build_sink("hr", table, (lambda s, k: origin) if origin else None)
    if origin is None:
        sink.secret_origin = None  # a sink built some other way: the old wording
    sink._client = httpx.AsyncClient(  # type: ignore[attr-defined]
        base_url="http://bamboo.test/api", transport=httpx.MockTransport(answer)
    )

    async def check() -> list[str]:
        async with sink:
            return await sink.check()

    problems = asyncio.run(check())
    assert len(problems) == 1 and problems[0].endswith(wanted), problems
    assert "k-secret" not in problems[0]
