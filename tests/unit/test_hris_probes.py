"""``permission_problems``: the probe loop both HRIS sinks' ``check`` share (answers from a
mock transport; the sinks' own checks run against the HRIS sandbox in test_push_hris)."""

from __future__ import annotations

import asyncio

import httpx

from syncd.sinks.hris import Probe, ProbeStopped, permission_problems


def _lines(answers: dict[str, int | Exception], probes: list[Probe]) -> list[str]:
    def answer(request: httpx.Request) -> httpx.Response:
        got = answers[request.url.path]
        if isinstance(got, Exception):
            raise got
        return httpx.Response(got, json={"message": f"said {got}"})

    async def run() -> list[str]:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(answer), base_url="http://hr"
        ) as client:

            async def call(p: Probe) -> httpx.Response:
                if p.grant == "stop":
                    raise ProbeStopped("/v1/auth: refused")
                return await client.request(p.method, p.path, **p.kwargs)

            return await permission_problems(
                probes,
                call,
                lambda r: str(r.json()["message"]),
                who="the key",
                fix="grant '{grant}'",
            )

    return asyncio.run(run())


def test_each_answer_becomes_its_line_in_probe_order() -> None:
    probes = [
        Probe("read", "read people", "GET", "/a?x=1", shown="/api/a?x=1"),
        Probe("write", "add people", "POST", "/b", {"json": {}}),
        Probe("busy", "count", "GET", "/c"),
        Probe("gone", "look", "GET", "/d"),
        Probe("fine", "ok", "GET", "/e"),
    ]
    answers: dict[str, int | Exception] = {
        "/a": 403,
        "/b": 500,
        "/c": 429,
        "/d": httpx.ConnectError("down"),
        "/e": 200,
    }
    assert _lines(answers, probes) == [
        "permission: the key may not read people (HTTP 403 on GET /api/a: said 403); grant 'read'",
        "POST /b: HTTP 500: said 500",
        "GET /c: HTTP 429: said 429",
        "/d: no answer (ConnectError)",
    ]


def test_a_stopped_probe_ends_the_list() -> None:
    probes = [Probe("stop", "x", "GET", "/a"), Probe("read", "read", "GET", "/b")]
    assert _lines({"/b": 403}, probes) == ["/v1/auth: refused"]
    assert _lines({"/a": 200, "/b": 200}, [Probe("read", "read", "GET", "/a")]) == []
