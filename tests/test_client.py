"""The Phare client: request shape, headers and the mapping of every failure (mocked HTTP)."""

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import httpx
import pytest

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
from incidents.phare import client as client_module
from tests.helpers import MOCKED_PHARE_API, MOCKED_TOKEN, PHARE_INCIDENT, project_with_token

pytestmark = pytest.mark.django_db  # the shared rate budget lives in the database

API = MOCKED_PHARE_API
JSON = {"Content-Type": "application/json"}
TOKEN = MOCKED_TOKEN
INCIDENT = PHARE_INCIDENT


@pytest.fixture(autouse=True)
def phare_api(mocked_phare):
    return mocked_phare


def make_project(**fields) -> PhareProject:
    return project_with_token(TOKEN, **fields)


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


def query_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


def test_list_monitors_reads_every_page_by_number_at_100_per_page(phare_api):
    route = phare_api.get("/uptime/monitors").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "data": [
                        monitor(1),
                        monitor(2, protocol="tcp", request={"host": "db.internal", "port": 5432}),
                    ],
                    "meta": {"current_page": 1},
                    "links": {"next": f"{API}/uptime/monitors?page=2&per_page=100"},
                },
            ),
            httpx.Response(
                200, json={"data": [monitor(3, status="offline")], "links": {"next": None}}
            ),
        ]
    )
    monitors = PhareClient(make_project()).list_monitors()
    queries = [query_of(call.request) for call in route.calls]
    assert queries == [{"per_page": ["100"], "page": ["1"]}, {"per_page": ["100"], "page": ["2"]}]
    assert [m.id for m in monitors] == [1, 2, 3]
    assert monitors[1].target == "db.internal:5432"
    assert monitors[0].target == "https://1.example"
    assert monitors[2].status == "offline"


def test_list_monitors_never_follows_a_next_link_to_another_host(phare_api):
    # Was: refused with "another host". Pages are now asked for by number from PHARE_API_URL,
    # so the link's host does not matter and the token never goes there.
    elsewhere = phare_api.get("https://evil.example/uptime/monitors").respond(
        200, json={"data": [], "links": {"next": None}}
    )
    route = phare_api.get("/uptime/monitors").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "data": [monitor(1)],
                    "links": {"next": "https://evil.example/uptime/monitors?page=2"},
                },
            ),
            httpx.Response(200, json={"data": [monitor(2)], "links": {"next": None}}),
        ]
    )
    assert [m.id for m in PhareClient(make_project()).list_monitors()] == [1, 2]
    assert route.calls.last.request.url.host == "phare.test"
    assert query_of(route.calls.last.request)["page"] == ["2"]
    assert not elsewhere.called


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


@pytest.mark.parametrize(
    "next_link",
    [
        f"{API}/uptime/monitors?page=2",  # per_page dropped (Laravel's paginator)
        "/uptime/monitors?page=2&per_page=100",  # relative
        "http://phare.test/uptime/monitors?page=2&per_page=100",  # http:// behind a TLS proxy
        "?page=2",
    ],
)
def test_list_monitors_reads_page_2_at_100_per_page_whatever_the_link_says(phare_api, next_link):
    route = phare_api.get("/uptime/monitors").mock(
        side_effect=[
            httpx.Response(200, json={"data": [monitor(1)], "links": {"next": next_link}}),
            httpx.Response(200, json={"data": [monitor(2)], "links": {"next": None}}),
        ]
    )
    assert [m.id for m in PhareClient(make_project()).list_monitors()] == [1, 2]
    assert str(route.calls.last.request.url) == f"{API}/uptime/monitors?per_page=100&page=2"


# -- reading Phare's incidents for a reconciliation (incidents_created_since) -------------

SINCE = datetime(2026, 11, 28, 9, 58, tzinfo=UTC)
HUGE = "<1e400>"  # written as the JSON number 1e400, which Python reads as infinity


def with_huge_numbers(body) -> httpx.Response:
    return httpx.Response(
        200, content=json.dumps(body).replace(f'"{HUGE}"', "1e400").encode(), headers=JSON
    )


def incident(incident_id: int, **fields) -> dict:
    return INCIDENT | {"id": incident_id, "slug": f"APP-{incident_id}"} | fields


def a_list(items: list, next_link: str | None, **meta) -> dict:
    return {"data": items, "meta": {"per_page": 100} | meta, "links": {"next": next_link}}


def test_reconciliation_reads_every_page_by_number_at_100_a_page_with_the_monitor_filter(
    phare_api,
):
    route = phare_api.get("/uptime/incidents").mock(
        side_effect=[
            httpx.Response(200, json=a_list([incident(1)], "/uptime/incidents?page=2")),
            httpx.Response(200, json=a_list([incident(2)], "http://elsewhere/x?page=3")),
            httpx.Response(200, json=a_list([incident(3)], None)),
        ]
    )
    found = PhareClient(make_project()).incidents_created_since(since=SINCE, monitor_ids=[1, 2])
    assert [i.id for i in found] == [1, 2, 3]
    assert [query_of(call.request) for call in route.calls] == [
        {"per_page": ["100"], "page": [str(n)], "monitor_id": ["1", "2"]} for n in (1, 2, 3)
    ]
    assert {call.request.url.host for call in route.calls} == {"phare.test"}


def test_reconciliation_assumes_no_order_and_reads_past_older_incidents(phare_api):
    # Oldest first: the first page is all older than the window, the wanted one is on page 2.
    old = "2026-11-01T10:00:00Z"
    phare_api.get("/uptime/incidents").mock(
        side_effect=[
            httpx.Response(
                200,
                json=a_list([incident(n, created_at=old) for n in range(1, 101)], "next"),
            ),
            httpx.Response(200, json=a_list([incident(101)], None)),
        ]
    )
    found = PhareClient(make_project()).incidents_created_since(since=SINCE)
    assert [i.id for i in found] == [101]


def test_reconciliation_reads_a_time_without_a_zone_as_utc(phare_api):
    phare_api.get("/uptime/incidents").respond(
        200,
        json=a_list(
            [
                incident(1, created_at="2026-11-28 10:00:01"),
                incident(2, created_at="2026-11-28 09:00:00"),  # before the window
            ],
            None,
        ),
    )
    found = PhareClient(make_project()).incidents_created_since(since=SINCE)
    assert [(i.id, i.created_at) for i in found] == [
        (1, datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC))
    ]


@pytest.mark.parametrize(
    "odd_item",
    [
        {"id": 8, "title": "no impact"},
        INCIDENT | {"id": HUGE},
        INCIDENT | {"id": 2**64},
        INCIDENT | {"id": True},
        INCIDENT | {"id": -3},
        INCIDENT | {"id": "12a"},
        INCIDENT | {"monitors": "1,2"},
        "not an object",
    ],
)
def test_reconciliation_fails_on_an_item_it_cannot_read_rather_than_skip_it(phare_api, odd_item):
    phare_api.get("/uptime/incidents").mock(
        return_value=with_huge_numbers(a_list([INCIDENT, odd_item], None))
    )
    with pytest.raises(PhareBadResponse, match="does not describe an incident"):
        PhareClient(make_project()).incidents_created_since(since=SINCE)


@pytest.mark.parametrize(
    "body",
    [
        {"data": [INCIDENT], "links": ["next"]},
        {"data": [INCIDENT], "links": "https://phare.test/uptime/incidents?page=2"},
        {"data": [INCIDENT], "links": {"next": 2}},
        {"data": [INCIDENT], "links": {"next": ""}},
        {"data": {"0": INCIDENT}, "links": {}},
        [INCIDENT],
    ],
)
def test_reconciliation_fails_on_a_page_it_cannot_read(phare_api, body):
    phare_api.get("/uptime/incidents").respond(200, json=body)
    with pytest.raises(PhareBadResponse, match="expected shape"):
        PhareClient(make_project()).incidents_created_since(since=SINCE)


def test_reconciliation_fails_rather_than_stop_at_its_bound(phare_api, monkeypatch):
    monkeypatch.setattr(client_module, "RECONCILE_PAGES", 3)
    pages = iter(range(1, 100))
    phare_api.get("/uptime/incidents").mock(
        side_effect=lambda request: httpx.Response(
            200, json=a_list([incident(next(pages))], "more")
        )
    )
    with pytest.raises(PhareBadResponse, match="more than 300 incidents to look through"):
        PhareClient(make_project()).incidents_created_since(since=SINCE)


def test_reconciliation_fails_when_phare_gives_the_same_page_again(phare_api):
    route = phare_api.get("/uptime/incidents").respond(200, json=a_list([INCIDENT], "more"))
    with pytest.raises(PhareBadResponse, match="same page again"):
        PhareClient(make_project()).incidents_created_since(since=SINCE)
    assert route.call_count == 2


def test_a_page_answering_another_page_number_is_refused(phare_api):
    phare_api.get("/uptime/monitors").mock(
        side_effect=[
            httpx.Response(200, json=a_list([monitor(1)], "more", current_page=1)),
            httpx.Response(200, json=a_list([monitor(2)], None, current_page=1)),
        ]
    )
    with pytest.raises(PhareBadResponse, match="page 1 of its monitor list when asked for page 2"):
        PhareClient(make_project()).list_monitors()


# -- odd replies become a PhareError or a parsed value -----------------------------------


@pytest.mark.parametrize("odd_id", [HUGE, 2**64, 2**63, True, 0, -1, "1_0", "١٢", 7.0, None])
def test_a_created_incident_with_an_odd_id_is_an_unknown_outcome(phare_api, odd_id):
    phare_api.post("/uptime/incidents").mock(
        return_value=with_huge_numbers(INCIDENT | {"id": odd_id})
    )
    with pytest.raises(PhareOutcomeUnknown, match="probably created"):
        PhareClient(make_project()).create_incident(payload())


def test_an_id_as_a_string_of_digits_is_read(phare_api):
    phare_api.post("/uptime/incidents").respond(
        201, json=INCIDENT | {"id": "9223372036854775807", "monitors": ["1", 2]}
    )
    incident = PhareClient(make_project()).create_incident(payload())
    assert (incident.id, incident.monitors) == (2**63 - 1, [1, 2])


def test_a_created_incident_with_a_time_without_a_zone_is_read_as_utc(phare_api):
    phare_api.post("/uptime/incidents").respond(
        201, json=INCIDENT | {"incident_at": "2026-11-28T10:00:00", "created_at": "2026-11-28"}
    )
    incident = PhareClient(make_project()).create_incident(payload())
    assert incident.incident_at == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert incident.incident_at.tzinfo is not None


def test_a_long_slug_is_clipped_to_the_consoles_column(phare_api):
    phare_api.post("/uptime/incidents").respond(201, json=INCIDENT | {"slug": "S" * 300})
    assert PhareClient(make_project()).create_incident(payload()).slug == "S" * 100


def test_json_nested_deeper_than_the_parser_goes_is_a_bad_response(phare_api):
    phare_api.get("/uptime/monitors").respond(200, text="[" * 100_000 + "]" * 100_000)
    with pytest.raises(PhareBadResponse, match="not JSON"):
        PhareClient(make_project()).list_monitors()


def test_a_monitor_with_odd_fields_is_clipped_or_refused(phare_api):
    phare_api.get("/uptime/monitors").respond(
        200,
        json=a_list(
            [monitor(1, name="n" * 300, status="s" * 50, request=["not", "an", "object"])],
            None,
        ),
    )
    [read] = PhareClient(make_project()).list_monitors()
    assert (len(read.name), len(read.status), read.target) == (255, 20, "")
    phare_api.get("/uptime/monitors").mock(
        return_value=with_huge_numbers(a_list([monitor(HUGE)], None))
    )
    with pytest.raises(PhareBadResponse, match="does not describe a monitor"):
        PhareClient(make_project()).list_monitors()


# -- organization-scoped keys ---------------------------------------------------------------


def org_project(**fields) -> PhareProject:
    project = PhareProject(name="Org", slug="org", phare_project_id=1)
    credentials.encrypt_token_into(project, "pha_org_abcdef123456")
    project.phare_project_id = None  # as a row stored before the prefix was read
    for name, value in fields.items():
        setattr(project, name, value)
    return project


def test_an_organization_key_is_known_by_its_prefix_and_sends_the_project_header(phare_api):
    route = phare_api.post("/uptime/incidents").respond(201, json=INCIDENT)
    project = org_project(phare_project_id=42)
    project.organization_key = False  # as stored before the prefix was read
    PhareClient(project).create_incident(payload())
    assert route.calls.last.request.headers["X-Phare-Project-Id"] == "42"


def test_an_organization_key_without_a_project_sends_nothing_and_says_why(phare_api):
    route = phare_api.get("/uptime/monitors")
    with pytest.raises(PhareAuthError, match="starts with pha_org_.*Phare project id or slug"):
        PhareClient(org_project()).check_access()
    assert not route.called
