"""The sandbox's other readings of Phare's documentation, over real HTTP (no Django needed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from phare_sandbox import Readings, RunningSandbox, SandboxState, start_in_thread

TOKEN = "test-token"
INCIDENT: dict[str, Any] = {
    "title": "Checkout returns 503",
    "impact": "major_outage",
    "exclude_from_downtime": False,
    "monitors": [1],
}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(SandboxState(token=TOKEN, monitor_count=5))
    yield running
    running.stop()


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ) as http:
        yield http


def configure(client: httpx.Client, **changes: Any) -> httpx.Response:
    return client.post("/__sandbox__/settings", json=changes)


def in_minutes(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_settings_are_read_changed_and_reset(sandbox: RunningSandbox, client: httpx.Client):
    defaults = client.get("/__sandbox__/settings").json()
    assert defaults == {
        "oldest_first": False,
        "monitor_filter_ignored": False,
        "links": "absolute",
        "links_drop_per_page": False,
        "naive_timestamps": False,
        "incident_at_required": False,
        "max_future_minutes": None,
        "unknown_keys_dropped": False,
        "retry_after_rounded_down": False,
    }
    changed = configure(client, oldest_first=True, max_future_minutes=9)
    assert changed.status_code == 200
    assert changed.json() == defaults | {"oldest_first": True, "max_future_minutes": 9}
    assert sandbox.state.readings == Readings(oldest_first=True, max_future_minutes=9)
    client.post("/__sandbox__/reset")
    assert client.get("/__sandbox__/settings").json() == defaults


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "blue"}, "Unknown settings: colour."),
        ({"oldest_first": "yes"}, "oldest_first must be true or false"),
        ({"links": "ftp://x"}, "links must be"),
        ({"max_future_minutes": -1}, "max_future_minutes must be null or an integer >= 0"),
    ],
)
def test_invalid_settings_are_422(client: httpx.Client, changes: dict, message: str):
    response = configure(client, **changes)
    assert response.status_code == 422
    assert message in response.json()["message"]


def test_oldest_first(client: httpx.Client):
    for title in ("first", "second"):
        client.post("/uptime/incidents", json=INCIDENT | {"title": title})
    titles = [i["title"] for i in client.get("/uptime/incidents").json()["data"]]
    assert titles == ["second", "first"]
    configure(client, oldest_first=True)
    titles = [i["title"] for i in client.get("/uptime/incidents").json()["data"]]
    assert titles == ["first", "second"]


def test_monitor_filter_ignored(client: httpx.Client):
    client.post("/uptime/incidents", json=INCIDENT | {"monitors": [1]})
    client.post("/uptime/incidents", json=INCIDENT | {"monitors": [2]})
    assert len(client.get("/uptime/incidents?monitor_id=1").json()["data"]) == 1
    configure(client, monitor_filter_ignored=True)
    assert len(client.get("/uptime/incidents?monitor_id=1").json()["data"]) == 2


@pytest.mark.parametrize(
    ("changes", "next_link"),
    [
        ({}, "{url}/uptime/monitors?per_page=2&page=2"),
        ({"links_drop_per_page": True}, "{url}/uptime/monitors?page=2"),
        ({"links": "relative"}, "/uptime/monitors?per_page=2&page=2"),
        (
            {"links": "http://phare.internal"},
            "http://phare.internal/uptime/monitors?per_page=2&page=2",
        ),
    ],
)
def test_pagination_links(
    sandbox: RunningSandbox, client: httpx.Client, changes: dict, next_link: str
):
    configure(client, **changes)
    links = client.get("/uptime/monitors?per_page=2").json()["links"]
    assert links["next"] == next_link.format(url=sandbox.url)


def test_naive_timestamps(client: httpx.Client):
    configure(client, naive_timestamps=True)
    created = client.post("/uptime/incidents", json=INCIDENT | {"incident_at": in_minutes(-5)})
    assert created.status_code == 201
    incident = created.json()
    for key in ("incident_at", "created_at", "updated_at"):
        assert datetime.strptime(incident[key], "%Y-%m-%d %H:%M:%S"), incident[key]
    assert incident["recovery_at"] is None
    monitor = client.get("/uptime/monitors").json()["data"][0]
    assert "T" not in monitor["created_at"] and "Z" not in monitor["created_at"]
    assert client.get("/uptime/incidents").json()["data"][0]["created_at"] == incident["created_at"]


def test_incident_at_required(client: httpx.Client):
    assert client.post("/uptime/incidents", json=INCIDENT).status_code == 201
    configure(client, incident_at_required=True)
    refused = client.post("/uptime/incidents", json=INCIDENT)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"incident_at": ["The incident at field is required."]}
    with_start = INCIDENT | {"incident_at": in_minutes(0)}
    assert client.post("/uptime/incidents", json=with_start).status_code == 201


def test_future_time_limit_on_create_and_edit(client: httpx.Client):
    configure(client, max_future_minutes=9)
    assert client.post(
        "/uptime/incidents", json=INCIDENT | {"incident_at": in_minutes(8)}
    ).is_success
    refused = client.post("/uptime/incidents", json=INCIDENT | {"incident_at": in_minutes(11)})
    assert refused.status_code == 422
    assert "The incident at field must be a date before or equal to" in refused.json()["message"]
    edit = client.post("/uptime/incidents/1", json={"recovery_at": in_minutes(60)})
    assert edit.status_code == 422
    assert list(edit.json()["errors"]) == ["recovery_at"]


def test_unknown_keys_silently_dropped(client: httpx.Client):
    body = INCIDENT | {"colour": "red"}
    refused = client.post("/uptime/incidents", json=body)
    assert refused.json()["errors"] == {"colour": ["The colour field is prohibited."]}
    configure(client, unknown_keys_dropped=True)
    created = client.post("/uptime/incidents", json=body)
    assert created.status_code == 201 and "colour" not in created.json()
    edited = client.post("/uptime/incidents/1", json={"title": "New", "colour": "red"})
    assert edited.status_code == 200
    assert edited.json()["title"] == "New" and "colour" not in edited.json()
    update = {"state": "identified", "content": "Found it.", "colour": "red"}
    assert client.post("/uptime/incidents/1/updates", json=update).status_code == 201


def test_retry_after_rounded_down_reads_0_in_the_last_second(sandbox: RunningSandbox):
    sandbox.state.rate_limit, sandbox.state.rate_limit_window_s = 1, 0.5
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ) as http:
        assert http.get("/uptime/monitors").status_code == 200
        assert http.get("/uptime/monitors").headers["Retry-After"] == "1"  # rounded up
        sandbox.state.configure(retry_after_rounded_down=True)
        limited = http.get("/uptime/monitors")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "0")
