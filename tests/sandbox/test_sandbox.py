"""The Phare sandbox over real HTTP (no Django needed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phare_sandbox import RunningSandbox, SandboxState, start_in_thread

TOKEN = "test-token"
ORG_TOKEN = "pha_org_test"
READ_ONLY_TOKEN = "pha_read_only"
VALID_INCIDENT: dict[str, Any] = {
    "title": "Checkout returns 503",
    "impact": "major_outage",
    "exclude_from_downtime": False,
    "description": "The load balancer answers 503 in eu-west.",
    "incident_at": "2026-11-28T09:00:00+01:00",
    "monitors": [1, 2],
}

SandboxFactory = Callable[..., RunningSandbox]


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    started: list[RunningSandbox] = []

    def make(**kwargs: Any) -> RunningSandbox:
        state = SandboxState(token=TOKEN, **kwargs)
        state.add_token(ORG_TOKEN, organization=True)
        state.add_token(READ_ONLY_TOKEN, read_only=True)
        started.append(start_in_thread(state))
        return started[-1]

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> RunningSandbox:
    return make_sandbox()


def client_for(sandbox: RunningSandbox, token: str | None = TOKEN, **headers: str) -> httpx.Client:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=sandbox.url, headers=headers, timeout=5)


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox) as http:
        yield http


def create(client: httpx.Client, **changes: Any) -> httpx.Response:
    body = {**VALID_INCIDENT, **changes}
    return client.post("/uptime/incidents", json={k: v for k, v in body.items() if v is not ...})


# -- auth and project headers --------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_unknown_token_is_401(sandbox: RunningSandbox, token: str | None) -> None:
    with client_for(sandbox, token) as http:
        for response in (http.get("/uptime/monitors"), http.get("/")):
            assert response.status_code == 401
            assert response.json() == {"message": "Unauthorized"}
            assert response.headers["content-type"] == "application/json"


def test_root_answers_api_info(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json()["title"] == "Phare sandbox"
    assert set(response.json()) == {"title", "version", "support", "website", "documentation"}


def test_org_token_needs_a_project_header(sandbox: RunningSandbox) -> None:
    with client_for(sandbox, ORG_TOKEN) as http:
        response = http.get("/uptime/monitors")
        assert response.status_code == 422
        assert response.json() == {
            "message": "A project header (X-Phare-Project-Id or X-Phare-Project-Slug) is "
            "required when using an organization-scoped API key.",
            "errors": {},
        }
        assert http.get("/uptime/monitors", headers={"X-Phare-Project-Id": "1"}).status_code == 200
        by_slug = http.get("/uptime/monitors", headers={"X-Phare-Project-Slug": "demo-project"})
        assert by_slug.status_code == 200
        unknown = http.get("/uptime/monitors", headers={"X-Phare-Project-Id": "2"})
        assert unknown.status_code == 404
        assert unknown.json() == {"message": "Resource not found"}


def test_read_only_token_cannot_create(sandbox: RunningSandbox) -> None:
    with client_for(sandbox, READ_ONLY_TOKEN) as http:
        response = create(http)
        assert response.status_code == 403
        assert response.json() == {
            "message": "The uptime:write permission is required to perform this action."
        }
        assert http.get("/uptime/monitors").status_code == 200
    assert sandbox.state.incidents == []


# -- monitors ------------------------------------------------------------------------------


def test_pagination_follows_links_next(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(monitor_count=250)
    seen: list[int] = []
    pages = 0
    with client_for(sandbox) as http:
        url: str | None = "/uptime/monitors?per_page=100"
        while url:
            body = http.get(url).raise_for_status().json()
            pages += 1
            assert set(body["meta"]) == {"current_page", "from", "to", "per_page", "path"}
            assert body["meta"]["per_page"] == 100
            assert body["links"]["last"] is None
            assert (body["links"]["prev"] is None) == (pages == 1)
            seen.extend(monitor["id"] for monitor in body["data"])
            url = body["links"]["next"]
    assert pages == 3
    assert body["meta"]["from"] == 201 and body["meta"]["to"] == 250
    assert seen == list(range(1, 251))


def test_page_past_the_end_is_empty(client: httpx.Client) -> None:
    body = client.get("/uptime/monitors", params={"page": 9}).json()
    assert body["data"] == []
    assert body["meta"]["from"] is None and body["meta"]["to"] is None
    assert body["links"]["next"] is None


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ({"per_page": 101}, "per_page", "The per page field must not be greater than 100."),
        ({"per_page": 0}, "per_page", "The per page field must be at least 1."),
        ({"per_page": "ten"}, "per_page", "The per page field must be an integer."),
        ({"page": 0}, "page", "The page field must be at least 1."),
    ],
)
def test_invalid_pagination_is_422(
    client: httpx.Client, params: dict[str, Any], key: str, message: str
) -> None:
    response = client.get("/uptime/monitors", params=params)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {key: [message]}}


def test_monitor_shape_and_get_by_id(client: httpx.Client) -> None:
    monitors = client.get("/uptime/monitors", params={"per_page": 100}).json()["data"]
    assert len(monitors) == 36
    assert {m["protocol"] for m in monitors} == {"http", "tcp"}
    assert {"online", "offline", "partial", "paused", "fetching"} <= {m["status"] for m in monitors}
    for monitor in monitors:
        assert 2 <= len(monitor["name"]) <= 45
        assert monitor["paused"] == (monitor["status"] == "paused")
        expected = {"method", "url"} if monitor["protocol"] == "http" else {"host", "port"}
        assert expected <= set(monitor["request"])
    assert client.get("/uptime/monitors/3").json() == monitors[2]


def test_ten_thousand_monitors_seed_quickly() -> None:
    started = time.monotonic()
    state = SandboxState(monitor_count=10_000)
    assert time.monotonic() - started < 5
    names = [monitor["name"] for monitor in state.monitors.values()]
    assert len(set(names)) == 10_000
    assert all(2 <= len(name) <= 45 for name in names)
    assert SandboxState(monitor_count=40).monitors[7]["name"] == state.monitors[7]["name"]


# -- create incident -----------------------------------------------------------------------


def test_create_incident(sandbox: RunningSandbox, client: httpx.Client) -> None:
    response = create(client)
    assert response.status_code == 201
    incident = response.json()
    assert incident["id"] == 1
    assert incident["slug"] == "DEMO-1"
    assert incident["type"] == "manual"
    assert incident["state"] == "investigating"
    assert incident["status"] == "ongoing"
    assert incident["project_id"] == 1
    assert incident["monitors"] == [1, 2]
    assert incident["incident_at"] == "2026-11-28T08:00:00.000000Z"
    assert incident["recovery_at"] is None
    assert incident["created_at"].endswith(".000000Z")
    assert client.get("/uptime/incidents/1").json() == incident
    assert sandbox.state.create_requests == [VALID_INCIDENT]

    minimal = create(client, description=..., incident_at=..., monitors=..., impact="unknown")
    assert minimal.status_code == 201
    assert minimal.json()["id"] == 2
    assert minimal.json()["description"] is None
    assert minimal.json()["monitors"] == []


def test_create_with_recovery_is_recovered(client: httpx.Client) -> None:
    response = create(client, recovery_at="2026-11-28T08:30:00Z")
    assert response.status_code == 201
    assert response.json()["status"] == "recovered"
    assert response.json()["recovery_at"] == "2026-11-28T08:30:00.000000Z"


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"title": ...}, "title", "The title field is required."),
        ({"title": ""}, "title", "The title field is required."),
        ({"title": 42}, "title", "The title field must be a string."),
        ({"title": "x" * 251}, "title", "The title field must not be greater than 250 characters."),
        ({"impact": ...}, "impact", "The impact field is required."),
        ({"impact": "degradedPerformance"}, "impact", "The selected impact is invalid."),
        (
            {"exclude_from_downtime": ...},
            "exclude_from_downtime",
            "The exclude from downtime field is required.",
        ),
        (
            {"exclude_from_downtime": "false"},
            "exclude_from_downtime",
            "The exclude from downtime field must be true or false.",
        ),
        ({"description": 5}, "description", "The description field must be a string."),
        ({"description": None}, "description", "The description field must be a string."),
        (
            {"description": "x" * 2001},
            "description",
            "The description field must not be greater than 2000 characters.",
        ),
        (
            {"incident_at": "yesterday"},
            "incident_at",
            "The incident at field must be a valid date.",
        ),
        (
            {"incident_at": "2026-11-28T09:00:00"},
            "incident_at",
            "The incident at field must be a valid date.",
        ),
        ({"recovery_at": 1700000000}, "recovery_at", "The recovery at field must be a valid date."),
        (
            {"recovery_at": "2026-11-28T07:59:59Z"},
            "recovery_at",
            "The recovery at field must be a date after or equal to incident at.",
        ),
        ({"monitors": "1"}, "monitors", "The monitors field must be an array."),
        ({"monitors": []}, "monitors", "The monitors field must have at least 1 items."),
        (
            {"monitors": [1] * 101},
            "monitors",
            "The monitors field must not have more than 100 items.",
        ),
        ({"monitors": [1, 999]}, "monitors.1", "The selected monitors.1 is invalid."),
        ({"monitors": [1, "2"]}, "monitors.1", "The selected monitors.1 is invalid."),
        ({"status": "ongoing"}, "status", "The status field is prohibited."),
    ],
)
def test_create_validation(
    sandbox: RunningSandbox, client: httpx.Client, changes: dict[str, Any], key: str, message: str
) -> None:
    response = create(client, **changes)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {key: [message]}}
    assert sandbox.state.incidents == []
    assert len(sandbox.state.create_requests) == 1


def test_validation_message_counts_other_errors(client: httpx.Client) -> None:
    response = client.post("/uptime/incidents", json={})
    assert response.status_code == 422
    assert response.json()["message"] == "The title field is required. (and 2 more errors)"
    assert set(response.json()["errors"]) == {"title", "impact", "exclude_from_downtime"}


def test_body_must_be_a_json_object(sandbox: RunningSandbox, client: httpx.Client) -> None:
    malformed = client.post(
        "/uptime/incidents", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json() == {"message": "Malformed JSON."}
    array = client.post("/uptime/incidents", json=[VALID_INCIDENT])
    assert array.status_code == 422
    assert array.json()["message"] == "The request body must be a JSON object."
    assert sandbox.state.create_requests == [[VALID_INCIDENT]]


def test_deleted_monitor_is_rejected(sandbox: RunningSandbox, client: httpx.Client) -> None:
    assert sandbox.state.delete_monitor(2)
    assert client.delete("/__sandbox__/monitors/1").status_code == 204
    assert client.delete("/__sandbox__/monitors/1").status_code == 404
    response = create(client, monitors=[1, 2, 3])
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"monitors.0", "monitors.1"}
    assert client.get("/uptime/monitors/1").status_code == 404
    assert client.get("/__sandbox__/state").json()["monitors"] == 34


# -- incidents list ------------------------------------------------------------------------


def test_list_incidents_newest_first_with_monitor_filter(client: httpx.Client) -> None:
    for monitors in ([1], [2], [3], [1, 3]):
        assert create(client, monitors=monitors).status_code == 201
    body = client.get("/uptime/incidents").json()
    assert [incident["id"] for incident in body["data"]] == [4, 3, 2, 1]
    filtered = client.get("/uptime/incidents", params=[("monitor_id", 1), ("monitor_id", 2)])
    assert [incident["id"] for incident in filtered.json()["data"]] == [4, 2, 1]
    paged = client.get("/uptime/incidents", params={"per_page": 3, "monitor_id": 3}).json()
    assert [incident["id"] for incident in paged["data"]] == [4, 3]
    assert paged["links"]["next"] is None
    bad = client.get("/uptime/incidents", params={"monitor_id": "x"})
    assert bad.status_code == 422


def test_not_found_and_method_not_allowed(client: httpx.Client) -> None:
    not_found = {"message": "Resource not found"}
    for path in ("/uptime/monitors/999", "/uptime/incidents/1", "/uptime/nothing", "/nope"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == not_found
    wrong_method = client.delete("/uptime/monitors")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"message": "Method not allowed."}


# -- rate limit, latency, faults -----------------------------------------------------------


def test_rate_limit(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(rate_limit=5)
    with client_for(sandbox) as http, client_for(sandbox, ORG_TOKEN) as org:
        assert client_for(sandbox, None).get("/uptime/monitors").status_code == 401
        remaining = []
        for _ in range(4):
            response = http.get("/uptime/monitors")
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            remaining.append(response.headers["X-RateLimit-Remaining"])
        # All tokens of the organization share one budget.
        org_call = org.get("/uptime/monitors", headers={"X-Phare-Project-Id": "1"})
        assert org_call.headers["X-RateLimit-Remaining"] == "0"
        assert remaining == ["4", "3", "2", "1"]
        assert http.get("/__sandbox__/state").status_code == 200

        limited = http.get("/uptime/monitors")
        assert limited.status_code == 429
        assert limited.json() == {"message": "Too Many Attempts."}
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Remaining"] == "0"

        assert http.post("/__sandbox__/reset").status_code == 200
        assert http.get("/uptime/monitors").status_code == 200


def test_rate_limit_can_be_disabled(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(rate_limit=None)
    with client_for(sandbox) as http:
        for _ in range(120):
            response = http.get("/uptime/monitors/1")
            assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers


def test_latency_applies_to_api_only(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(latency_ms=200)
    with client_for(sandbox) as http:
        started = time.monotonic()
        http.get("/__sandbox__/state")
        assert time.monotonic() - started < 0.15
        started = time.monotonic()
        http.get("/uptime/monitors")
        assert time.monotonic() - started >= 0.2


def test_fault_answers_next_create_then_recovers(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    fault = {"route": "create_incident", "count": 1, "status": 503, "retry_after": 5}
    assert client.post("/__sandbox__/faults", json=fault).status_code == 201
    assert client.get("/uptime/monitors").status_code == 200

    failed = create(client)
    assert failed.status_code == 503
    assert failed.json() == {"message": "Service Unavailable"}
    assert failed.headers["Retry-After"] == "5"
    assert create(client).status_code == 201
    assert len(sandbox.state.create_requests) == 2
    assert len(sandbox.state.incidents) == 1


def test_python_fault_with_raw_body_and_delay(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    sandbox.state.add_fault(route="list_monitors", count=2, status=502, body="<h1>Bad</h1>")
    sandbox.state.add_fault(route="any", delay_ms=150, status=500)
    for _ in range(2):
        response = client.get("/uptime/monitors")
        assert response.status_code == 502
        assert response.text == "<h1>Bad</h1>"
    started = time.monotonic()
    assert client.get("/uptime/incidents").status_code == 500
    assert time.monotonic() - started >= 0.15
    assert client.get("/uptime/monitors").status_code == 200


@pytest.mark.parametrize(
    ("action", "created", "error"),
    [
        ("drop", 0, httpx.RemoteProtocolError),
        ("process_then_drop", 1, httpx.RemoteProtocolError),
        ("process_then_truncate", 1, httpx.RemoteProtocolError),
        ("process_then_delay", 1, httpx.ReadTimeout),
    ],
)
def test_faults_that_break_the_answer(
    sandbox: RunningSandbox, client: httpx.Client, action: str, created: int, error: type
) -> None:
    delay_ms = 400 if action == "process_then_delay" else 0
    fault = {"route": "create_incident", "action": action, "delay_ms": delay_ms}
    assert client.post("/__sandbox__/faults", json=fault).status_code == 201
    with pytest.raises(error):
        client.post("/uptime/incidents", json=VALID_INCIDENT, timeout=0.2)
    time.sleep(0.3)  # a delayed answer finishes its work on the server's side
    assert len(sandbox.state.incidents) == created
    assert create(client).status_code == 201  # one request each, then back to normal


@pytest.mark.parametrize("body", ["", "<html>Bad gateway</html>", '{"id": 1, "tit'])
def test_fault_bodies_are_sent_as_given(client: httpx.Client, body: str) -> None:
    fault = {"route": "create_incident", "status": 201, "body": body}
    client.post("/__sandbox__/faults", json=fault)
    response = create(client)
    assert (response.status_code, response.text) == (201, body)


def test_invalid_fault_is_422(client: httpx.Client) -> None:
    assert client.post("/__sandbox__/faults", json={"route": "nowhere"}).status_code == 422
    assert client.post("/__sandbox__/faults", json={"count": 0}).status_code == 422
    assert client.post("/__sandbox__/faults", json={"colour": "red"}).status_code == 422
    assert client.post("/__sandbox__/faults", json={"action": "explode"}).status_code == 422


def test_reset_restores_seed(sandbox: RunningSandbox, client: httpx.Client) -> None:
    create(client)
    sandbox.state.delete_monitor(1)
    sandbox.state.add_fault()
    state = client.post("/__sandbox__/reset").json()
    assert state == {
        "incidents": 0,
        "updates": 0,
        "create_requests": [],
        "writes": [],
        "monitors": 36,
        "requests": 0,
    }
    assert client.get("/uptime/monitors/1").status_code == 200
    assert create(client).json()["id"] == 1


# -- command line --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_server_starts_and_stops() -> None:
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PHARE_SANDBOX_TOKEN": "cli-token"}
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "phare_sandbox", "--port", str(port), "--monitors", "12"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/uptime/monitors",
                    headers={"Authorization": "Bearer cli-token"},
                    timeout=1,
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.05)
        assert response.status_code == 200
        assert len(response.json()["data"]) == 12
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert (
        stdout.strip()
        == f"Phare sandbox on http://127.0.0.1:{port} (project demo-project, 12 monitors)"
    )
    assert "GET /uptime/monitors 200" in stderr
    assert "cli-token" not in stderr
