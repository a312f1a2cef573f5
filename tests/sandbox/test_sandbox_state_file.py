"""With a state file (as `make run` starts it), the sandbox numbers incidents and updates after
the highest ids it ever issued, so a restart never hands out a second DEMO-1; without one
(the test suite's sandbox) every start and reset numbers from 1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phare_sandbox import RunningSandbox, SandboxState, start_in_thread

TOKEN = "test-token"
INCIDENT: dict[str, Any] = {
    "title": "Checkout returns 503",
    "impact": "major_outage",
    "exclude_from_downtime": False,
    "incident_at": "2026-11-28T09:00:00+01:00",
    "monitors": [1],
}
UPDATE = {"state": "identified", "content": "The load balancer lost its certificate."}


def create(sandbox: RunningSandbox) -> dict[str, Any]:
    response = httpx.post(
        f"{sandbox.url}/uptime/incidents",
        json=INCIDENT,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()


def post_update(sandbox: RunningSandbox, incident_id: int) -> dict[str, Any]:
    response = httpx.post(
        f"{sandbox.url}/uptime/incidents/{incident_id}/updates",
        json=UPDATE,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start a sandbox (stopping the previous one, as a restart would)."""
    running: list[RunningSandbox] = []

    def start(**kwargs: Any) -> RunningSandbox:
        if running:
            running.pop().stop()
        running.append(start_in_thread(SandboxState(token=TOKEN, rate_limit=None, **kwargs)))
        return running[-1]

    yield start
    for sandbox in running:
        sandbox.stop()


def test_a_restart_with_the_same_state_file_goes_on_numbering(start, tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    first = start(state_file=state_file)
    assert [create(first)["slug"], create(first)["slug"]] == ["DEMO-1", "DEMO-2"]
    assert post_update(first, 2)["id"] == 1

    again = start(state_file=state_file)
    incident = create(again)
    assert (incident["id"], incident["slug"]) == (3, "DEMO-3")
    assert post_update(again, 3)["id"] == 2
    assert json.loads(state_file.read_text()) == {"incident": 3, "update": 2}


def test_a_reset_with_a_state_file_does_not_number_from_1_again(start, tmp_path: Path) -> None:
    sandbox = start(state_file=tmp_path / "sandbox-state.json")
    create(sandbox)
    sandbox.state.reset()
    assert sandbox.state.summary()["incidents"] == 0
    assert create(sandbox)["slug"] == "DEMO-2"


def test_without_a_state_file_every_start_and_reset_numbers_from_1(start) -> None:
    sandbox = start()
    assert create(sandbox)["slug"] == "DEMO-1"
    sandbox.state.reset()
    assert create(sandbox)["slug"] == "DEMO-1"
    assert create(start())["slug"] == "DEMO-1"


@pytest.mark.parametrize(
    "content", ["", "not json", "[]", '{"incident": 3}', '{"incident": -1, "update": 0}']
)
def test_a_state_file_that_holds_something_else_is_refused_naming_it(
    tmp_path: Path, content: str
) -> None:
    state_file = tmp_path / "sandbox-state.json"
    state_file.write_text(content)
    with pytest.raises(ValueError, match="sandbox-state.json does not hold the sandbox's ids"):
        SandboxState(token=TOKEN, state_file=state_file)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_sandbox(port: int, state_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "phare_sandbox", "--port", str(port), "--state-file", state_file],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PHARE_SANDBOX_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _create_over_cli(port: int, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 10
    while True:
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/uptime/incidents",
                json=INCIDENT,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=1,
            )
            break
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.05)
    assert response.status_code == 201, response.text
    return response.json()["slug"]


def test_the_command_line_keeps_its_numbering_across_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    slugs = []
    for _ in range(2):
        port = _free_port()
        process = _run_sandbox(port, state_file)
        try:
            slugs.append(_create_over_cli(port, process))
        finally:
            process.terminate()
            process.communicate(timeout=10)
        assert process.returncode == 0
    assert slugs == ["DEMO-1", "DEMO-2"]


def test_the_command_line_refuses_an_unreadable_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    state_file.write_text("garbage")
    process = _run_sandbox(_free_port(), state_file)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 1
    assert f"Cannot start the sandbox: {state_file} does not hold the sandbox's ids" in stderr
    assert stdout == ""
