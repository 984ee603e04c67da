"""``syncd hris-sandbox serve`` as users run it: a real subprocess that prints the URL it listens
on (the real port with ``--port 0``) and accepts the credentials it was given; bad arguments get
one line naming the option and exit code 2."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from syncd.cli import main as cli
from syncd.sandbox.runner import wait_healthy


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        p.terminate()
        p.wait(timeout=15)


def serve(started: list[subprocess.Popen[str]], *args: str) -> str:
    cmd = [sys.executable, "-m", "syncd", "hris-sandbox", "serve", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(proc)
    assert proc.stdout is not None
    # Printed once the port listens; read with a deadline (a loaded machine may take a while).
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready, ("no URL on stdout within 120 s", proc.poll())
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, proc.poll())
    assert not url.endswith(":0")
    wait_healthy(url, proc=proc)  # type: ignore[arg-type]  # a text-mode Popen
    return url


def test_personio_with_its_own_client(started: list[subprocess.Popen[str]]) -> None:
    url = serve(started, "--vendor", "personio", "--client-id", "acme", "--client-secret", "s3")
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "vendor": "personio"}
    r = httpx.post(f"{url}/v1/auth", json={"client_id": "acme", "client_secret": "s3"})
    assert r.status_code == 200
    wrong = httpx.post(
        f"{url}/v1/auth", json={"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
    )
    assert wrong.status_code == 401


def test_bamboohr_with_keys_and_seed(started: list[subprocess.Popen[str]]) -> None:
    url = serve(
        started,
        "--vendor",
        "bamboohr",
        "--api-key",
        "k1",
        "--api-key",
        "k2",
        "--employees",
        "3",
        "--seed",
        "5",
    )
    for key in ("k1", "k2"):
        assert httpx.get(f"{url}/api/v1/employees/3", auth=(key, "x")).status_code == 200
    assert httpx.get(f"{url}/api/v1/employees/4", auth=("k1", "x")).status_code == 404
    assert httpx.get(f"{url}/api/v1/employees/1", auth=("sandbox-key", "x")).status_code == 401
    proc = started[0]
    proc.terminate()
    proc.wait(timeout=15)
    assert proc.stderr is not None
    banner = proc.stderr.read()
    assert "bamboohr, seed=5, 3 employees, 2 API key(s); serving http://127.0.0.1:" in banner
    assert "k1" not in banner and "Traceback" not in banner


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--vendor", "bamboohr", "--client-id", "x", "--client-secret", "y"], "--client-id"),
        (["--vendor", "personio", "--api-key", "k"], "--api-key"),
        (["--vendor", "personio", "--client-id", "x"], "give both or neither"),
        (["--vendor", "workday"], "--vendor"),
        (["--vendor", "bamboohr", "--port", "70000"], "--port"),
        (["--vendor", "bamboohr", "--api-key", " "], "--api-key"),
        ([], "--vendor"),
        (["--vendor", "personio", "--faults", "lost=2"], "'lost' must be between 0 and 1"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(args: list[str], named: str) -> None:
    result = CliRunner().invoke(cli, ["hris-sandbox", "serve", *args])
    assert result.exit_code == 2
    assert named in result.output
    assert "Traceback" not in result.output


def test_a_port_in_use_exits_1_with_one_line(started: list[subprocess.Popen[str]]) -> None:
    url = serve(started, "--vendor", "personio")
    port = url.rsplit(":", 1)[1]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "syncd",
            "hris-sandbox",
            "serve",
            "--vendor",
            "personio",
            "--port",
            port,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2  # as `syncd sandbox serve` (tests/integration/test_failures.py)
    assert r.stderr.strip() == (
        f"syncd: --port: cannot listen on 127.0.0.1:{port} (Address already in use); choose "
        "another port, or 0 for any free one"
    )


def test_faults_in_a_served_sandbox_leave_no_traceback(
    started: list[subprocess.Popen[str]],
) -> None:
    url = serve(started, "--vendor", "personio", "--fault-timeout", "60", "--faults", "503=0.5")
    assert httpx.get(f"{url}/_sandbox/snapshot").status_code == 200
    ops = [httpx.post(f"{url}/v1/auth").status_code for _ in range(20)]
    assert set(ops) == {503, 400}  # the rates from --faults, before the queue below replaces them
    plan = {"queue": [{"kind": "lost", "op": "create"}, {"kind": "timeout", "op": "list"}]}
    assert httpx.post(f"{url}/_sandbox/faults", json=plan).status_code == 200
    token = httpx.post(
        f"{url}/v1/auth", json={"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
    ).json()["data"]["token"]
    person = {"email": "a@example.org", "first_name": "A", "last_name": "B"}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v1/company/employees", json={"employee": person})
        with pytest.raises(httpx.ReadTimeout):
            c.get("/v1/company/employees", timeout=httpx.Timeout(10, read=0.3))
    proc = started.pop()
    proc.terminate()  # while the list request is still held for 60 s
    assert proc.wait(timeout=10) == -signal.SIGTERM  # uvicorn exits by the signal it got
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()
