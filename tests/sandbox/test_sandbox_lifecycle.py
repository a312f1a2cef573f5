"""The sandbox's incident lifecycle over real HTTP: edit, recover, updates, delete, and the
control endpoints that change incidents the way Phare itself would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from phare_sandbox import RunningSandbox, SandboxState, start_in_thread
from phare_sandbox.server import API_ROUTES
from phare_sandbox.state import FAULT_ROUTES

TOKEN = "test-token"
READ_ONLY_TOKEN = "pha_read_only"
LONG_AGO = "2020-01-01T00:00:00.000000Z"
VALID_INCIDENT: dict[str, Any] = {
    "title": "Checkout returns 503",
    "impact": "major_outage",
    "exclude_from_downtime": False,
    "description": "The load balancer answers 503 in eu-west.",
    "incident_at": "2026-11-28T09:00:00+01:00",
    "monitors": [1, 2],
}
INCIDENT_KEYS = {
    "id",
    "project_id",
    "type",
    "slug",
    "title",
    "description",
    "impact",
    "state",
    "status",
    "exclude_from_downtime",
    "monitors",
    "incident_at",
    "recovery_at",
    "created_at",
    "updated_at",
}
API_KEY_CREATOR = {"id": 1, "type": "api_key", "label": "Sandbox API key"}
DASHBOARD_CREATOR = {"id": 7, "type": "user", "label": "Phare dashboard user"}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = SandboxState(token=TOKEN, rate_limit=None)
    state.add_token(READ_ONLY_TOKEN, read_only=True)
    with start_in_thread(state) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5) as http:
        yield http


def create(client: httpx.Client, **changes: Any) -> dict[str, Any]:
    response = client.post("/uptime/incidents", json={**VALID_INCIDENT, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def post_update(client: httpx.Client, incident_id: int, **body: Any) -> httpx.Response:
    body = {"state": "identified", "content": "We found the cause.", **body}
    return client.post(f"/uptime/incidents/{incident_id}/updates", json=body)


def backdate(sandbox: RunningSandbox, incident_id: int) -> None:
    """Move ``updated_at`` into the past: timestamps have one-second precision, so a bump
    within the same second would otherwise be invisible."""
    state = sandbox.state
    with state.lock:
        for index, incident in enumerate(state.incidents):
            if incident["id"] == incident_id:
                state.incidents[index] = {**incident, "updated_at": LONG_AGO}


def seconds_ago(timestamp: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(timestamp)).total_seconds()


def add_fault(client: httpx.Client, **fault: Any) -> None:
    assert client.post("/__sandbox__/faults", json=fault).status_code == 201


# -- incident shape ------------------------------------------------------------------------


def test_incidents_carry_every_field_in_create_get_and_list(client: httpx.Client) -> None:
    created = create(client)
    assert set(created) == INCIDENT_KEYS
    assert set(client.get("/uptime/incidents/1").json()) == INCIDENT_KEYS
    assert set(client.get("/uptime/incidents").json()["data"][0]) == INCIDENT_KEYS


# -- edit ----------------------------------------------------------------------------------


def test_edit_changes_only_the_fields_sent(sandbox: RunningSandbox, client: httpx.Client) -> None:
    before = create(client)
    backdate(sandbox, 1)
    response = client.post("/uptime/incidents/1", json={"title": "Checkout is slow"})
    assert response.status_code == 200
    edited = response.json()
    assert edited["title"] == "Checkout is slow"
    unchanged = INCIDENT_KEYS - {"title", "updated_at"}
    assert {key: edited[key] for key in unchanged} == {key: before[key] for key in unchanged}
    assert edited["updated_at"] != LONG_AGO
    assert seconds_ago(edited["updated_at"]) < 5
    assert client.get("/uptime/incidents/1").json() == edited


def test_edit_every_field(client: httpx.Client) -> None:
    create(client)
    changes = {
        "title": "Search is degraded",
        "impact": "degraded_performance",
        "description": "Autocomplete times out.",
        "exclude_from_downtime": True,
        "incident_at": "2026-11-28T10:00:00Z",
        "monitors": [3, 3, 4],
    }
    edited = client.post("/uptime/incidents/1", json=changes).json()
    assert {key: edited[key] for key in changes} == {
        **changes,
        "incident_at": "2026-11-28T10:00:00.000000Z",
        "monitors": [3, 4],
    }
    assert edited["status"] == "ongoing"


def test_edit_with_empty_body_only_bumps_updated_at(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    before = create(client)
    backdate(sandbox, 1)
    edited = client.post("/uptime/incidents/1", json={}).json()
    assert {**edited, "updated_at": before["updated_at"]} == before
    assert edited["updated_at"] != LONG_AGO


def test_edit_recovery_at_recovers_and_clearing_it_reopens(client: httpx.Client) -> None:
    create(client)
    recovered = client.post("/uptime/incidents/1", json={"recovery_at": "2026-11-28T09:30:00Z"})
    assert recovered.json()["status"] == "recovered"
    assert recovered.json()["recovery_at"] == "2026-11-28T09:30:00.000000Z"
    reopened = client.post("/uptime/incidents/1", json={"recovery_at": None}).json()
    assert reopened["status"] == "ongoing"
    assert reopened["recovery_at"] is None


def test_edit_unknown_incident_is_404(client: httpx.Client) -> None:
    create(client)
    response = client.post("/uptime/incidents/2", json={"title": "Nope"})
    assert response.status_code == 404
    assert response.json() == {"message": "Resource not found"}


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"title": ""}, "title", "The title field is required."),
        ({"title": None}, "title", "The title field is required."),
        ({"title": "x" * 251}, "title", "The title field must not be greater than 250 characters."),
        ({"impact": "catastrophic"}, "impact", "The selected impact is invalid."),
        ({"impact": "majorOutage"}, "impact", "The selected impact is invalid."),
        (
            {"description": ""},
            "description",
            "The description field must be at least 1 characters.",
        ),
        (
            {"description": "x" * 2001},
            "description",
            "The description field must not be greater than 2000 characters.",
        ),
        (
            {"exclude_from_downtime": "yes"},
            "exclude_from_downtime",
            "The exclude from downtime field must be true or false.",
        ),
        ({"incident_at": "today"}, "incident_at", "The incident at field must be a valid date."),
        (
            {"recovery_at": "2026-11-28T07:00:00Z"},
            "recovery_at",
            "The recovery at field must be a date after or equal to incident at.",
        ),
        ({"monitors": []}, "monitors", "The monitors field must have at least 1 items."),
        (
            {"monitors": [1] * 101},
            "monitors",
            "The monitors field must not have more than 100 items.",
        ),
        ({"monitors": [1, 999]}, "monitors.1", "The selected monitors.1 is invalid."),
        ({"status": "recovered"}, "status", "The status field is prohibited."),
        ({"state": "resolved"}, "state", "The state field is prohibited."),
    ],
)
def test_edit_validation(
    client: httpx.Client, changes: dict[str, Any], key: str, message: str
) -> None:
    before = create(client)
    response = client.post("/uptime/incidents/1", json=changes)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {key: [message]}}
    assert client.get("/uptime/incidents/1").json() == before


def test_edit_checks_dates_against_the_stored_ones(client: httpx.Client) -> None:
    create(client, recovery_at="2026-11-28T09:00:00Z")
    response = client.post("/uptime/incidents/1", json={"incident_at": "2026-11-28T10:00:00Z"})
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "incident_at": ["The incident at field must be a date before or equal to recovery at."]
    }


def test_edit_body_must_be_a_json_object(client: httpx.Client) -> None:
    create(client)
    malformed = client.post(
        "/uptime/incidents/1", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert client.post("/uptime/incidents/1", json=["title"]).status_code == 422


# -- recover -------------------------------------------------------------------------------


def test_recover_answers_204_and_recovers(sandbox: RunningSandbox, client: httpx.Client) -> None:
    before = create(client)
    backdate(sandbox, 1)
    response = client.post("/uptime/incidents/1/recover")
    assert response.status_code == 204
    assert response.content == b""
    incident = client.get("/uptime/incidents/1").json()
    assert incident["status"] == "recovered"
    assert seconds_ago(incident["recovery_at"]) < 5
    assert incident["updated_at"] != LONG_AGO
    assert incident["state"] == before["state"]


def test_recover_twice_is_422(client: httpx.Client) -> None:
    create(client)
    assert client.post("/uptime/incidents/1/recover").status_code == 204
    again = client.post("/uptime/incidents/1/recover")
    assert again.status_code == 422
    assert again.json() == {"message": "The incident is already recovered.", "errors": {}}


def test_recovered_at_creation_cannot_be_recovered(client: httpx.Client) -> None:
    incident_at = datetime.now(UTC) - timedelta(hours=1)
    create(
        client,
        incident_at=incident_at.isoformat(),
        recovery_at=(incident_at + timedelta(minutes=5)).isoformat(),
    )
    assert client.post("/uptime/incidents/1/recover").status_code == 422


def test_recover_keeps_a_recovery_date_already_set(client: httpx.Client) -> None:
    create(client)
    control = {"status": "recovering", "recovery_at": "2026-11-28T09:10:00Z"}
    assert client.post("/__sandbox__/incidents/1", json=control).status_code == 200
    assert client.post("/uptime/incidents/1/recover").status_code == 204
    incident = client.get("/uptime/incidents/1").json()
    assert incident["status"] == "recovered"
    assert incident["recovery_at"] == "2026-11-28T09:10:00.000000Z"


def test_recover_unknown_incident_is_404(client: httpx.Client) -> None:
    response = client.post("/uptime/incidents/9/recover")
    assert response.status_code == 404
    assert response.json() == {"message": "Resource not found"}
    wrong_method = client.get("/uptime/incidents/9/recover")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


# -- incident updates ----------------------------------------------------------------------


def test_create_update(sandbox: RunningSandbox, client: httpx.Client) -> None:
    create(client)
    backdate(sandbox, 1)
    response = post_update(client, 1, state="monitoring", content="A fix is deployed.")
    assert response.status_code == 201
    update = response.json()
    assert set(update) == {
        "id",
        "incident_id",
        "state",
        "content",
        "published_at",
        "creator",
        "created_at",
        "updated_at",
    }
    assert update["id"] == 1
    assert update["incident_id"] == 1
    assert (update["state"], update["content"]) == ("monitoring", "A fix is deployed.")
    assert update["creator"] == API_KEY_CREATOR
    assert update["published_at"] == update["created_at"]
    assert seconds_ago(update["published_at"]) < 5
    incident = client.get("/uptime/incidents/1").json()
    assert incident["state"] == "monitoring"
    assert incident["updated_at"] != LONG_AGO
    assert incident["status"] == "ongoing"


def test_create_update_keeps_published_at(client: httpx.Client) -> None:
    create(client)
    response = post_update(client, 1, published_at="2026-11-28T10:15:00+01:00")
    assert response.json()["published_at"] == "2026-11-28T09:15:00.000000Z"


def test_content_of_exactly_10000_characters_is_accepted(client: httpx.Client) -> None:
    create(client)
    assert post_update(client, 1, content="x" * 10000).status_code == 201


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ({"state": "fixed"}, "state", "The selected state is invalid."),
        ({"state": None}, "state", "The state field is required."),
        ({"content": ""}, "content", "The content field is required."),
        ({"content": "   "}, "content", "The content field is required."),
        ({"content": 12}, "content", "The content field must be a string."),
        (
            {"content": "x" * 10001},
            "content",
            "The content field must not be greater than 10000 characters.",
        ),
        (
            {"published_at": "now"},
            "published_at",
            "The published at field must be a valid date.",
        ),
        ({"creator": "me"}, "creator", "The creator field is prohibited."),
    ],
)
def test_create_update_validation(
    sandbox: RunningSandbox, client: httpx.Client, body: dict[str, Any], key: str, message: str
) -> None:
    create(client)
    response = post_update(client, 1, **body)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {key: [message]}}
    assert sandbox.state.incident_updates == []
    assert client.get("/uptime/incidents/1").json()["state"] == "investigating"


def test_update_without_state_or_content_lists_both_errors(client: httpx.Client) -> None:
    create(client)
    response = client.post("/uptime/incidents/1/updates", json={})
    assert response.status_code == 422
    assert response.json()["message"] == "The state field is required. (and 1 more error)"
    assert set(response.json()["errors"]) == {"state", "content"}


def test_updates_of_an_unknown_incident_are_404(client: httpx.Client) -> None:
    create(client)
    for response in (post_update(client, 2), client.get("/uptime/incidents/2/updates")):
        assert response.status_code == 404
        assert response.json() == {"message": "Resource not found"}


def test_updates_are_listed_newest_first_and_paginated(client: httpx.Client) -> None:
    create(client)
    create(client)
    for number, published_at in enumerate(
        ["2026-11-28T09:00:00Z", "2026-11-28T09:20:00Z", "2026-11-28T09:40:00Z"]
    ):
        post_update(client, 1, content=f"update {number}", published_at=published_at)
    # Published earlier, so it sorts last although it was posted last.
    post_update(client, 1, content="back-dated", published_at="2026-11-28T08:50:00Z")
    post_update(client, 2, content="other incident")

    seen: list[str] = []
    url: str | None = "/uptime/incidents/1/updates?per_page=3"
    pages = 0
    while url:
        body = client.get(url).raise_for_status().json()
        pages += 1
        assert set(body["meta"]) == {"current_page", "from", "to", "per_page", "path"}
        assert body["meta"]["path"].endswith("/uptime/incidents/1/updates")
        assert body["links"]["last"] is None
        seen.extend(update["content"] for update in body["data"])
        url = body["links"]["next"]
    assert pages == 2
    assert body["meta"]["from"] == 4 and body["meta"]["to"] == 4
    assert seen == ["update 2", "update 1", "update 0", "back-dated"]

    default = client.get("/uptime/incidents/1/updates").json()
    assert default["meta"]["per_page"] == 20
    assert len(default["data"]) == 4


@pytest.mark.parametrize(
    ("params", "key"), [({"per_page": 101}, "per_page"), ({"page": 0}, "page")]
)
def test_update_list_validates_pagination(
    client: httpx.Client, params: dict[str, Any], key: str
) -> None:
    create(client)
    response = client.get("/uptime/incidents/1/updates", params=params)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {key}


# -- delete --------------------------------------------------------------------------------


def test_delete_removes_the_incident_and_its_updates(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    create(client)
    create(client)
    post_update(client, 1)
    post_update(client, 2)

    response = client.delete("/uptime/incidents/1")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get("/uptime/incidents/1").status_code == 404
    assert client.get("/uptime/incidents/1/updates").status_code == 404
    assert [update["incident_id"] for update in sandbox.state.incident_updates] == [2]
    assert [item["id"] for item in client.get("/uptime/incidents").json()["data"]] == [2]
    assert client.get("/uptime/incidents/2/updates").json()["meta"]["to"] == 1
    again = client.delete("/uptime/incidents/1")
    assert again.status_code == 404
    assert again.json() == {"message": "Resource not found"}


# -- tokens, rate limit, faults ------------------------------------------------------------


def test_read_only_token_cannot_change_incidents(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    before = create(client)
    headers = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5) as read_only:
        for response in (
            read_only.post("/uptime/incidents/1", json={"title": "Nope"}),
            read_only.post("/uptime/incidents/1/recover"),
            read_only.post("/uptime/incidents/1/updates", json={"state": "resolved"}),
            read_only.delete("/uptime/incidents/1"),
        ):
            assert response.status_code == 403
        assert read_only.get("/uptime/incidents/1/updates").status_code == 200
    assert client.get("/uptime/incidents/1").json() == before


def test_new_routes_count_against_the_rate_limit() -> None:
    state = SandboxState(token=TOKEN, rate_limit=3)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        start_in_thread(state) as sandbox,
        httpx.Client(base_url=sandbox.url, headers=headers) as http,
    ):
        assert http.post("/uptime/incidents", json=VALID_INCIDENT).status_code == 201
        assert http.post("/uptime/incidents/1", json={"title": "Edited"}).status_code == 200
        assert http.get("/uptime/incidents/1/updates").status_code == 200
        limited = http.post("/uptime/incidents/1/recover")
        assert limited.status_code == 429
        assert "Retry-After" in limited.headers
    assert state.incidents[0]["status"] == "ongoing"


def test_every_api_route_can_be_faulted() -> None:
    names = {name for _, methods in API_ROUTES for name in methods.values()}
    assert names <= FAULT_ROUTES


@pytest.mark.parametrize(
    ("route", "method", "path", "body"),
    [
        ("edit_incident", "POST", "/uptime/incidents/1", {"title": "Edited"}),
        ("delete_incident", "DELETE", "/uptime/incidents/1", None),
        ("recover_incident", "POST", "/uptime/incidents/1/recover", None),
        ("list_incident_updates", "GET", "/uptime/incidents/1/updates", None),
        (
            "create_incident_update",
            "POST",
            "/uptime/incidents/1/updates",
            {"state": "resolved", "content": "Fixed."},
        ),
    ],
)
def test_fault_answers_instead_of_the_new_route(
    sandbox: RunningSandbox,
    client: httpx.Client,
    route: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = create(client)
    add_fault(client, route=route, status=502)
    add_fault(client, route="get_incident", status=500, after=1)  # targets only its route

    response = client.request(method, path, json=body)
    assert response.status_code == 502
    assert response.json() == {"message": "Bad Gateway"}
    assert client.get("/uptime/incidents/1").json() == before
    assert sandbox.state.incident_updates == []
    assert client.request(method, path, json=body).status_code < 300


def test_process_then_drop_on_create_update_stores_it(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    create(client)
    add_fault(client, route="create_incident_update", action="process_then_drop")
    with pytest.raises(httpx.RemoteProtocolError):
        post_update(client, 1, state="resolved", content="Fixed.")
    updates = client.get("/uptime/incidents/1/updates").json()["data"]
    assert [(u["state"], u["content"]) for u in updates] == [("resolved", "Fixed.")]
    assert client.get("/uptime/incidents/1").json()["state"] == "resolved"


def test_drop_on_edit_changes_nothing(client: httpx.Client) -> None:
    before = create(client)
    add_fault(client, route="edit_incident", action="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/uptime/incidents/1", json={"title": "Edited"})
    assert client.get("/uptime/incidents/1").json() == before


# -- control endpoints ---------------------------------------------------------------------


def test_control_edit_changes_the_incident_behind_the_consoles_back(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    create(client)
    backdate(sandbox, 1)
    changes = {
        "title": "Planned database upgrade",
        "impact": "maintenance",
        "description": "Done by the on-call team.",
        "status": "recovering",
        "state": "monitoring",
        "incident_at": "2026-11-28T09:00:00Z",
        "recovery_at": "2026-11-28T09:45:00Z",
        "monitors": [5],
    }
    response = client.post("/__sandbox__/incidents/1", json=changes)
    assert response.status_code == 200
    incident = client.get("/uptime/incidents/1").json()
    assert incident == response.json()
    assert {key: incident[key] for key in changes} == {
        **changes,
        "incident_at": "2026-11-28T09:00:00.000000Z",
        "recovery_at": "2026-11-28T09:45:00.000000Z",
    }
    assert incident["updated_at"] != LONG_AGO
    operational = client.post("/__sandbox__/incidents/1", json={"impact": "operational"})
    assert operational.json()["impact"] == "operational"
    assert sandbox.state.writes == [
        {"route": "create_incident", "id": None, "body": VALID_INCIDENT}
    ]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"status": "closed"}, "status"),
        ({"state": "done"}, "state"),
        ({"impact": "catastrophic"}, "impact"),
        ({"monitors": [999]}, "monitors.0"),
        ({"slug": "X-1"}, "slug"),
    ],
)
def test_control_edit_validation(client: httpx.Client, body: dict[str, Any], key: str) -> None:
    before = create(client)
    response = client.post("/__sandbox__/incidents/1", json=body)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {key}
    assert client.get("/uptime/incidents/1").json() == before


def test_control_edit_of_unknown_incident_is_404(client: httpx.Client) -> None:
    response = client.post("/__sandbox__/incidents/3", json={"title": "Nope"})
    assert response.status_code == 404
    assert response.json() == {"message": "Resource not found"}


def test_control_update_comes_from_a_dashboard_user(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    create(client)
    post_update(client, 1, state="investigating", content="Looking into it.")
    response = client.post(
        "/__sandbox__/incidents/1/updates",
        json={"state": "identified", "content": "Posted in Phare's dashboard."},
    )
    assert response.status_code == 201
    assert response.json()["creator"] == DASHBOARD_CREATOR
    updates = client.get("/uptime/incidents/1/updates").json()["data"]
    assert [u["creator"] for u in updates] == [DASHBOARD_CREATOR, API_KEY_CREATOR]
    assert client.get("/uptime/incidents/1").json()["state"] == "identified"
    assert [write["route"] for write in sandbox.state.writes] == [
        "create_incident",
        "create_incident_update",
    ]

    bad = client.post("/__sandbox__/incidents/1/updates", json={"state": "identified"})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"content"}
    assert client.post("/__sandbox__/incidents/2/updates", json={}).status_code == 404


def test_control_opens_a_monitor_incident(client: httpx.Client) -> None:
    assert client.get("/uptime/monitors/1").json()["status"] == "online"
    response = client.post("/__sandbox__/monitor-incidents", json={"monitor_id": 1})
    assert response.status_code == 201
    incident = response.json()
    assert set(incident) == INCIDENT_KEYS
    assert incident["type"] == "monitor"
    assert incident["impact"] == "major_outage"
    assert incident["title"] == "www homepage is down"
    assert incident["state"] == "investigating"
    assert incident["status"] == "ongoing"
    assert incident["monitors"] == [1]
    assert incident["slug"] == "DEMO-1"
    assert client.get("/uptime/incidents/1").json() == incident
    monitor = client.get("/uptime/monitors/1").json()
    assert monitor["status"] == "offline"
    assert monitor["response_time"] is None

    titled = client.post(
        "/__sandbox__/monitor-incidents", json={"monitor_id": 2, "title": "Checkout down"}
    )
    assert titled.json()["title"] == "Checkout down"
    listed = client.get("/uptime/incidents", params={"monitor_id": 2}).json()["data"]
    assert [item["id"] for item in listed] == [2]


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ({}, "monitor_id", "The monitor id field is required."),
        ({"monitor_id": 999}, "monitor_id", "The selected monitor id is invalid."),
        ({"monitor_id": "1"}, "monitor_id", "The selected monitor id is invalid."),
        ({"monitor_id": 1, "title": ""}, "title", "The title field is required."),
    ],
)
def test_control_monitor_incident_validation(
    sandbox: RunningSandbox, client: httpx.Client, body: dict[str, Any], key: str, message: str
) -> None:
    response = client.post("/__sandbox__/monitor-incidents", json=body)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {key: [message]}}
    assert sandbox.state.incidents == []
    assert client.get("/uptime/monitors/1").json()["status"] == "online"


# -- state summary -------------------------------------------------------------------------


def test_state_lists_writes_per_route_even_when_faulted(client: httpx.Client) -> None:
    create(client)
    add_fault(client, route="edit_incident", status=503)
    assert client.post("/uptime/incidents/1", json={"title": "Edited"}).status_code == 503
    post_update(client, 1, state="resolved", content="Fixed.")
    client.post("/uptime/incidents/1/recover")
    client.delete("/uptime/incidents/1")
    client.get("/uptime/incidents")

    summary = client.get("/__sandbox__/state").json()
    assert summary["writes"] == [
        {"route": "create_incident", "id": None, "body": VALID_INCIDENT},
        {"route": "edit_incident", "id": 1, "body": {"title": "Edited"}},
        {
            "route": "create_incident_update",
            "id": 1,
            "body": {"state": "resolved", "content": "Fixed."},
        },
        {"route": "recover_incident", "id": 1, "body": None},
        {"route": "delete_incident", "id": 1, "body": None},
    ]
    assert summary["incidents"] == 0
    assert summary["updates"] == 0


def test_state_counts_updates_and_reset_forgets_them(client: httpx.Client) -> None:
    create(client)
    post_update(client, 1)
    post_update(client, 1)
    assert client.get("/__sandbox__/state").json()["updates"] == 2
    summary = client.post("/__sandbox__/reset").json()
    assert (summary["updates"], summary["writes"]) == (0, [])
    create(client)
    assert post_update(client, 1).json()["id"] == 1
