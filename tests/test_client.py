"""The Phare client: request shape, headers and the mapping of every failure (mocked HTTP)."""

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import respx

from incidents import credentials
from incidents.models import PhareProject
from incidents.phare import (
    IncidentPayload,
    PhareAuthError,
    PhareBadResponse,
    PhareClient,
    PhareNotFound,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareUnavailable,
    PhareValidationError,
)

pytestmark = pytest.mark.django_db  # the shared rate budget lives in the database

API = "https://phare.test"
TOKEN = "pha_project_token_abcd"
INCIDENT = {
    "id": 7,
    "project_id": 1,
    "type": "manual",
    "slug": "APP-7",
    "state": "investigating",
    "status": "ongoing",
    "impact": "major_outage",
    "title": "Checkout down",
    "description": None,
    "exclude_from_downtime": False,
    "incident_at": "2026-11-28T10:00:00.000000Z",
    "recovery_at": None,
    "monitors": [1, 2],
    "created_at": "2026-11-28T10:00:01.000000Z",
    "updated_at": "2026-11-28T10:00:01.000000Z",
}


@pytest.fixture(autouse=True)
def phare_api(settings):
    settings.PHARE_API_URL = API
    settings.PHARE_TIMEOUT = 2.0
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def make_project(**fields) -> PhareProject:
    project = PhareProject(name="Shop", slug="shop", **fields)
    credentials.encrypt_token_into(project, TOKEN)
    return project


def payload(**overrides) -> IncidentPayload:
    fields = {"impact": "major_outage", "title": "Checkout down", "exclude_from_downtime": False}
    return IncidentPayload(**(fields | overrides))


def test_create_sends_exactly_the_schema_with_utc_times(phare_api):
    route = phare_api.post("/uptime/incidents").respond(201, json=INCIDENT)
    paris = timezone(timedelta(hours=1))
    PhareClient(make_project()).create_incident(
        payload(
            description="Payments fail",
            exclude_from_downtime=True,
            incident_at=datetime(2026, 11, 28, 11, 0, tzinfo=paris),
            recovery_at=datetime(2026, 11, 28, 12, 30, tzinfo=paris),
            monitors=[1, 2],
        )
    )
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"] == "application/json"
    assert httpx.Response(200, content=sent.content).json() == {
        "impact": "major_outage",
        "title": "Checkout down",
        "description": "Payments fail",
        "exclude_from_downtime": True,
        "incident_at": "2026-11-28T10:00:00Z",
        "recovery_at": "2026-11-28T11:30:00Z",
        "monitors": [1, 2],
    }


def test_create_omits_empty_optional_fields_and_always_sends_the_boolean(phare_api):
    route = phare_api.post("/uptime/incidents").respond(201, json=INCIDENT)
    PhareClient(make_project()).create_incident(payload())
    assert route.calls.last.request.read() == (
        b'{"impact":"major_outage","title":"Checkout down","exclude_from_downtime":false}'
    )


def test_create_parses_the_incident(phare_api):
    phare_api.post("/uptime/incidents").respond(201, json=INCIDENT | {"impact": "majorOutage"})
    incident = PhareClient(make_project()).create_incident(payload())
    assert (incident.id, incident.slug, incident.impact) == (7, "APP-7", "major_outage")
    assert incident.created_at == datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC)
    assert incident.monitors == [1, 2]


def test_project_scoped_token_sends_no_project_header(phare_api):
    route = phare_api.post("/uptime/incidents").respond(201, json=INCIDENT)
    PhareClient(make_project(phare_project_id=42)).create_incident(payload())
    headers = route.calls.last.request.headers
    assert "X-Phare-Project-Id" not in headers and "X-Phare-Project-Slug" not in headers


def test_organization_token_sends_the_project_id_header(phare_api):
    route = phare_api.post("/uptime/incidents").respond(201, json=INCIDENT)
    PhareClient(make_project(organization_key=True, phare_project_id=42)).create_incident(payload())
    assert route.calls.last.request.headers["X-Phare-Project-Id"] == "42"
    assert "X-Phare-Project-Slug" not in route.calls.last.request.headers


def test_organization_token_sends_the_project_slug_header_when_no_id(phare_api):
    route = phare_api.get("/uptime/monitors").respond(200, json={"data": [], "links": {}})
    project = make_project(organization_key=True, phare_project_slug="luminous-tower")
    PhareClient(project).list_monitors()
    assert route.calls.last.request.headers["X-Phare-Project-Slug"] == "luminous-tower"


@pytest.mark.parametrize(
    ("status", "body", "error_class", "message_part"),
    [
        (401, {"message": "Unauthorized"}, PhareAuthError, "rejected the project's token (401)"),
        (
            403,
            {"message": "The uptime:write permission is required."},
            PhareAuthError,
            "The uptime:write permission is required.",
        ),
        (404, {"message": "Resource not found"}, PhareNotFound, "Resource not found"),
        (500, {"message": "Server Error"}, PhareUnavailable, "(500)"),
        (503, {"message": "Service Unavailable"}, PhareUnavailable, "(503)"),
        (502, "<html>Bad gateway</html>", PhareOutcomeUnknown, "may have been created"),
        (504, "", PhareOutcomeUnknown, "may have been created"),
        (418, {"message": "teapot"}, PhareBadResponse, "unexpected 418"),
    ],
)
def test_create_maps_each_status_to_its_error(phare_api, status, body, error_class, message_part):
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(status, text=body)
    )
    phare_api.post("/uptime/incidents").mock(return_value=response)
    with pytest.raises(error_class) as caught:
        PhareClient(make_project()).create_incident(payload())
    assert message_part in caught.value.message
    assert caught.value.status == status


def test_422_carries_field_errors(phare_api):
    phare_api.post("/uptime/incidents").respond(
        422,
        json={
            "message": "The title field is required. (and 1 more error)",
            "errors": {
                "title": ["The title field is required."],
                "monitors.0": ["The selected monitors.0 is invalid."],
            },
        },
    )
    with pytest.raises(PhareValidationError) as caught:
        PhareClient(make_project()).create_incident(payload())
    assert caught.value.field_errors == {
        "title": ["The title field is required."],
        "monitors.0": ["The selected monitors.0 is invalid."],
    }


def test_429_carries_retry_after(phare_api):
    phare_api.post("/uptime/incidents").respond(
        429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "12"}
    )
    with pytest.raises(PhareRateLimited) as caught:
        PhareClient(make_project()).create_incident(payload())
    assert caught.value.retry_after == 12
    assert "Try again in 13 s" in caught.value.message


def test_connection_error_is_unavailable_and_says_nothing_was_sent(phare_api):
    phare_api.post("/uptime/incidents").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PhareUnavailable, match="Nothing was sent"):
        PhareClient(make_project()).create_incident(payload())


def test_read_timeout_on_create_is_an_unknown_outcome_and_is_not_retried(phare_api):
    route = phare_api.post("/uptime/incidents").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(PhareOutcomeUnknown, match="may have been created"):
        PhareClient(make_project()).create_incident(payload())
    assert route.call_count == 1


def test_read_timeout_on_a_read_is_unavailable(phare_api):
    phare_api.get("/uptime/monitors").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(PhareUnavailable):
        PhareClient(make_project()).list_monitors()


def test_created_with_unreadable_body_is_an_unknown_outcome(phare_api):
    phare_api.post("/uptime/incidents").respond(201, text="{not json")
    with pytest.raises(PhareOutcomeUnknown, match="probably created"):
        PhareClient(make_project()).create_incident(payload())


def test_created_with_wrong_shape_is_an_unknown_outcome(phare_api):
    phare_api.post("/uptime/incidents").respond(201, json={"ok": True})
    with pytest.raises(PhareOutcomeUnknown):
        PhareClient(make_project()).create_incident(payload())


def test_missing_token_is_an_auth_error_without_calling_phare(phare_api):
    route = phare_api.post("/uptime/incidents")
    with pytest.raises(PhareAuthError, match="No Phare token"):
        PhareClient(PhareProject(name="Empty", slug="empty")).create_incident(payload())
    assert not route.called


def monitor(monitor_id: int, **fields) -> dict:
    return {
        "id": monitor_id,
        "name": f"monitor {monitor_id}",
        "status": "online",
        "protocol": "http",
        "request": {"url": f"https://{monitor_id}.example"},
    } | fields


def test_list_monitors_follows_links_next_at_100_per_page(phare_api):
    first = phare_api.get(f"{API}/uptime/monitors?per_page=100").respond(
        200,
        json={
            "data": [
                monitor(1),
                monitor(2, protocol="tcp", request={"host": "db.internal", "port": 5432}),
            ],
            "meta": {"current_page": 1},
            "links": {"next": f"{API}/uptime/monitors?page=2&per_page=100"},
        },
    )
    second = phare_api.get(f"{API}/uptime/monitors?page=2&per_page=100").respond(
        200, json={"data": [monitor(3, status="offline")], "links": {"next": None}}
    )
    monitors = PhareClient(make_project()).list_monitors()
    assert first.call_count == second.call_count == 1
    assert [m.id for m in monitors] == [1, 2, 3]
    assert monitors[1].target == "db.internal:5432"
    assert monitors[0].target == "https://1.example"
    assert monitors[2].status == "offline"


def test_list_monitors_refuses_a_next_link_to_another_host(phare_api):
    phare_api.get("/uptime/monitors").respond(
        200, json={"data": [], "links": {"next": "https://evil.example/uptime/monitors?page=2"}}
    )
    with pytest.raises(PhareBadResponse, match="another host"):
        PhareClient(make_project()).list_monitors()


def test_list_monitors_with_a_body_that_is_not_a_list(phare_api):
    phare_api.get("/uptime/monitors").respond(200, json={"data": "nope"})
    with pytest.raises(PhareBadResponse):
        PhareClient(make_project()).list_monitors()


def test_list_monitors_stops_when_next_repeats_the_same_page(phare_api):
    route = phare_api.get("/uptime/monitors").respond(
        200, json={"data": [], "links": {"next": f"{API}/uptime/monitors?per_page=100"}}
    )
    with pytest.raises(PhareBadResponse, match="same page"):
        PhareClient(make_project()).list_monitors()
    assert route.call_count == 1


def test_any_success_status_on_create_is_read_as_created(phare_api):
    phare_api.post("/uptime/incidents").respond(200, json=INCIDENT)
    assert PhareClient(make_project()).create_incident(payload()).slug == "APP-7"


def test_created_incident_keeps_phares_whole_answer(phare_api):
    phare_api.post("/uptime/incidents").respond(201, json=INCIDENT)
    assert PhareClient(make_project()).create_incident(payload()).raw == INCIDENT


def test_an_unexpected_failure_becomes_a_phare_error_without_its_text(phare_api):
    phare_api.post("/uptime/incidents").mock(side_effect=RuntimeError(f"header {TOKEN}"))
    with pytest.raises(PhareOutcomeUnknown) as caught:
        PhareClient(make_project()).create_incident(payload())
    assert TOKEN not in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_list_monitors_keeps_100_per_page_when_a_next_link_drops_it(phare_api):
    phare_api.get(f"{API}/uptime/monitors?per_page=100").respond(
        200, json={"data": [monitor(1)], "links": {"next": f"{API}/uptime/monitors?page=2"}}
    )
    second = phare_api.get(f"{API}/uptime/monitors?page=2&per_page=100").respond(
        200, json={"data": [monitor(2)], "links": {"next": None}}
    )
    assert [m.id for m in PhareClient(make_project()).list_monitors()] == [1, 2]
    assert second.called
