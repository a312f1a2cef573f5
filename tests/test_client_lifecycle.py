"""The Phare client's incident lifecycle: get, edit, recover, delete, updates and one list page.

Request shape, parsing and the mapping of failures, with Phare's HTTP mocked by respx.
"""

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import httpx
import pytest

from incidents.models import PhareProject
from incidents.phare import (
    IncidentPayload,
    IncidentUpdatePayload,
    PhareBadResponse,
    PhareClient,
    PhareNotFound,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareValidationError,
    incident_edit_body,
)
from incidents.phare import client as client_module
from tests.helpers import (
    MOCKED_PHARE_API,
    MOCKED_TOKEN,
    PHARE_INCIDENT,
    PHARE_INCIDENT_UPDATE,
    project_with_token,
)

pytestmark = pytest.mark.django_db  # the shared rate budget lives in the database

API = MOCKED_PHARE_API
TOKEN = MOCKED_TOKEN
INCIDENT = PHARE_INCIDENT | {
    "description": "Payments fail",
    "exclude_from_downtime": True,
    "updated_at": "2026-11-28T10:05:00.000000Z",
}
UPDATE = PHARE_INCIDENT_UPDATE
GONE = {"message": "Resource not found"}
REJECTED = {
    "message": "The title field must not be greater than 250 characters.",
    "errors": {"title": ["The title field must not be greater than 250 characters."]},
}


@pytest.fixture(autouse=True)
def phare_api(mocked_phare):
    return mocked_phare


def make_project(**fields) -> PhareProject:
    return project_with_token(TOKEN, **fields)


def client() -> PhareClient:
    return PhareClient(make_project())


def sent_json(route) -> object:
    return json.loads(route.calls.last.request.content)


def query_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


def a_page(items: list, next_link: str | None) -> dict:
    return {"data": items, "meta": {"per_page": 100}, "links": {"next": next_link}}


def update(update_id: int, **fields) -> dict:
    return UPDATE | {"id": update_id} | fields


# -- get_incident ------------------------------------------------------------------------


def test_get_incident_reads_it_with_the_token(phare_api):
    route = phare_api.get("/uptime/incidents/7").respond(200, json=INCIDENT)
    incident = client().get_incident(7)
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (incident.id, incident.slug, incident.type) == (7, "APP-7", "manual")
    assert (incident.description, incident.exclude_from_downtime) == ("Payments fail", True)
    assert incident.updated_at == datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    assert incident.recovery_at is None
    assert incident.raw == INCIDENT


def test_get_incident_reads_a_null_description_as_empty(phare_api):
    phare_api.get("/uptime/incidents/7").respond(200, json=INCIDENT | {"description": None})
    assert client().get_incident(7).description == ""


def test_get_incident_reads_the_older_single_monitor_id(phare_api):
    older = {k: v for k, v in INCIDENT.items() if k != "monitors"} | {"uptime_monitor_id": 4}
    phare_api.get("/uptime/incidents/7").respond(200, json=older)
    assert client().get_incident(7).monitors == [4]


def test_get_incident_of_a_deleted_incident_says_it_no_longer_exists(phare_api):
    phare_api.get("/uptime/incidents/7").respond(404, json=GONE)
    with pytest.raises(PhareNotFound) as caught:
        client().get_incident(7)
    assert "no longer exists in Phare" in caught.value.message
    assert "slug" not in caught.value.message


def test_get_incident_with_an_answer_that_is_not_an_incident(phare_api):
    phare_api.get("/uptime/incidents/7").respond(200, json={"id": 7})
    with pytest.raises(PhareBadResponse):
        client().get_incident(7)


def test_get_incident_reads_again_after_a_429(phare_api):
    route = phare_api.get("/uptime/incidents/7").mock(
        side_effect=[
            httpx.Response(
                429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "0"}
            ),
            httpx.Response(200, json=INCIDENT),
        ]
    )
    assert client().get_incident(7).id == 7
    assert route.call_count == 2


# -- edit_incident -----------------------------------------------------------------------


def test_edit_incident_posts_the_changed_fields(phare_api):
    route = phare_api.post("/uptime/incidents/7").respond(200, json=INCIDENT)
    body = incident_edit_body({"title": "Checkout slow", "recovery_at": None})
    incident = client().edit_incident(7, body)
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == {"title": "Checkout slow", "recovery_at": None}
    assert incident.slug == "APP-7"


def test_edit_incident_of_a_deleted_incident_says_it_no_longer_exists(phare_api):
    phare_api.post("/uptime/incidents/7").respond(404, json=GONE)
    with pytest.raises(PhareNotFound, match="no longer exists in Phare"):
        client().edit_incident(7, {"title": "Checkout slow"})


def test_edit_incident_422_carries_field_errors(phare_api):
    phare_api.post("/uptime/incidents/7").respond(422, json=REJECTED)
    with pytest.raises(PhareValidationError) as caught:
        client().edit_incident(7, {"title": "x" * 251})
    assert caught.value.field_errors == REJECTED["errors"]
    assert caught.value.message == REJECTED["message"]


def test_edit_incident_with_a_body_that_is_not_an_incident_says_the_change_was_probably_made(
    phare_api,
):
    phare_api.post("/uptime/incidents/7").respond(200, json={"ok": True})
    with pytest.raises(PhareOutcomeUnknown) as caught:
        client().edit_incident(7, {"title": "Checkout slow"})
    assert "The change was probably made" in caught.value.message
    assert "created" not in caught.value.message


def test_edit_incident_with_unreadable_json_is_an_unknown_outcome(phare_api):
    phare_api.post("/uptime/incidents/7").respond(200, text="{not json")
    with pytest.raises(PhareOutcomeUnknown, match="The change was probably made"):
        client().edit_incident(7, {"title": "Checkout slow"})


def test_edit_incident_429_is_raised_without_sending_again(phare_api):
    route = phare_api.post("/uptime/incidents/7").respond(
        429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "0"}
    )
    with pytest.raises(PhareRateLimited):
        client().edit_incident(7, {"title": "Checkout slow"})
    assert route.call_count == 1


# -- unknown outcomes of every write -----------------------------------------------------

WRITES = {
    "edit": (
        "POST",
        "/uptime/incidents/7",
        lambda c: c.edit_incident(7, {"title": "Checkout slow"}),
        "The change may have been made: the console checks Phare before sending it again.",
    ),
    "recover": (
        "POST",
        "/uptime/incidents/7/recover",
        lambda c: c.recover_incident(7),
        "The incident may have been marked recovered: the console checks Phare before "
        "sending it again.",
    ),
    "delete": (
        "DELETE",
        "/uptime/incidents/7",
        lambda c: c.delete_incident(7),
        "The incident may have been deleted: the console checks Phare before sending it again.",
    ),
    "update": (
        "POST",
        "/uptime/incidents/7/updates",
        lambda c: c.create_incident_update(7, IncidentUpdatePayload("identified", "Rolling back")),
        "The update may have been posted: the console checks Phare before sending it again.",
    ),
}
FAILURES = {
    "502": (httpx.Response(502, text="<html>Bad gateway</html>"), "Phare's gateway answered 502."),
    "504": (httpx.Response(504, text=""), "Phare's gateway answered 504."),
    "timeout": (httpx.ReadTimeout("slow"), "Phare did not answer in time."),
    "broken": (httpx.RemoteProtocolError("gone"), "The connection to Phare broke"),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("write", WRITES)
def test_a_write_without_an_answer_is_an_unknown_outcome_worded_for_its_action(
    phare_api, write, failure
):
    method, path, call, sentence = WRITES[write]
    outcome, opening = FAILURES[failure]
    if isinstance(outcome, httpx.Response):
        route = phare_api.route(method=method, path=path).mock(return_value=outcome)
    else:
        route = phare_api.route(method=method, path=path).mock(side_effect=outcome)
    with pytest.raises(PhareOutcomeUnknown) as caught:
        call(client())
    assert caught.value.message.startswith(opening)
    assert caught.value.message.endswith(sentence)
    assert "incident list" not in caught.value.message
    assert route.call_count == 1  # never sent again once it may have reached Phare


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (
            httpx.Response(504, text=""),
            "Phare's gateway answered 504. The incident may have been created: check Phare's "
            "incident list before trying again.",
        ),
        (
            httpx.ReadTimeout("slow"),
            "Phare did not answer in time. The incident may have been created: check Phare's "
            "incident list before trying again.",
        ),
        (
            RuntimeError("boom"),
            "The call to Phare failed unexpectedly. Check Phare's incident list before trying "
            "again, and tell the console's admins.",
        ),
    ],
)
def test_create_keeps_its_own_unknown_outcome_messages(phare_api, outcome, message):
    route = phare_api.post("/uptime/incidents")
    if isinstance(outcome, httpx.Response):
        route.mock(return_value=outcome)
    else:
        route.mock(side_effect=outcome)
    payload = IncidentPayload(impact="major_outage", title="Down", exclude_from_downtime=False)
    with pytest.raises(PhareOutcomeUnknown) as caught:
        client().create_incident(payload)
    assert caught.value.message == message


def test_an_unexpected_failure_on_a_write_keeps_the_token_out_of_messages_and_logs(
    phare_api, caplog
):
    phare_api.delete("/uptime/incidents/7").mock(side_effect=RuntimeError(f"header {TOKEN}"))
    with caplog.at_level(logging.DEBUG), pytest.raises(PhareOutcomeUnknown) as caught:
        client().delete_incident(7)
    assert caught.value.message == (
        "The call to Phare failed unexpectedly. The incident may have been deleted: the console "
        "checks Phare before sending it again. Tell the console's admins."
    )
    assert TOKEN not in caught.value.message and TOKEN not in caplog.text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# -- recover_incident and delete_incident -------------------------------------------------


def test_recover_incident_posts_without_a_body(phare_api):
    route = phare_api.post("/uptime/incidents/7/recover").respond(204)
    assert client().recover_incident(7) is None
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.content == b""
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_recover_incident_takes_any_success_without_reading_its_body(phare_api):
    phare_api.post("/uptime/incidents/7/recover").respond(200, text="<p>not json</p>")
    client().recover_incident(7)


def test_recover_incident_422_carries_field_errors(phare_api):
    body = {"message": "Already recovered.", "errors": {"recovery_at": ["Already recovered."]}}
    phare_api.post("/uptime/incidents/7/recover").respond(422, json=body)
    with pytest.raises(PhareValidationError) as caught:
        client().recover_incident(7)
    assert caught.value.field_errors == {"recovery_at": ["Already recovered."]}


def test_recover_incident_of_a_deleted_incident_says_it_no_longer_exists(phare_api):
    phare_api.post("/uptime/incidents/7/recover").respond(404, json=GONE)
    with pytest.raises(PhareNotFound, match="no longer exists in Phare"):
        client().recover_incident(7)


def test_delete_incident_sends_a_delete(phare_api):
    route = phare_api.delete("/uptime/incidents/7").respond(204)
    assert client().delete_incident(7) is None
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_delete_incident_already_gone_says_it_no_longer_exists(phare_api):
    phare_api.delete("/uptime/incidents/7").respond(404, json=GONE)
    with pytest.raises(PhareNotFound, match="no longer exists in Phare"):
        client().delete_incident(7)


# -- create_incident_update --------------------------------------------------------------


def test_create_incident_update_posts_state_content_and_utc_time(phare_api):
    route = phare_api.post("/uptime/incidents/7/updates").respond(201, json=UPDATE)
    paris = timezone(timedelta(hours=1))
    created = client().create_incident_update(
        7,
        IncidentUpdatePayload(
            state="identified",
            content="A bad deploy; rolling back.",
            published_at=datetime(2026, 11, 28, 11, 10, tzinfo=paris),
        ),
    )
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent_json(route) == {
        "state": "identified",
        "content": "A bad deploy; rolling back.",
        "published_at": "2026-11-28T10:10:00Z",
    }
    assert (created.id, created.incident_id, created.state) == (3, 7, "identified")
    assert created.published_at == datetime(2026, 11, 28, 10, 10, tzinfo=UTC)
    assert (created.creator_type, created.creator_label) == ("api_key", "Console key")
    assert created.raw == UPDATE


def test_create_incident_update_omits_an_absent_publication_time(phare_api):
    route = phare_api.post("/uptime/incidents/7/updates").respond(201, json=UPDATE)
    client().create_incident_update(7, IncidentUpdatePayload("monitoring", "Watching"))
    assert sent_json(route) == {"state": "monitoring", "content": "Watching"}


def test_create_incident_update_422_carries_field_errors(phare_api):
    body = {"message": "The content field is required.", "errors": {"content": ["Required."]}}
    phare_api.post("/uptime/incidents/7/updates").respond(422, json=body)
    with pytest.raises(PhareValidationError) as caught:
        client().create_incident_update(7, IncidentUpdatePayload("identified", ""))
    assert caught.value.field_errors == {"content": ["Required."]}


def test_create_incident_update_with_an_odd_answer_says_it_was_probably_posted(phare_api):
    phare_api.post("/uptime/incidents/7/updates").respond(201, json={"id": 3})
    with pytest.raises(PhareOutcomeUnknown, match="The update was probably posted"):
        client().create_incident_update(7, IncidentUpdatePayload("identified", "Rolling back"))


@pytest.mark.parametrize("creator", [None, "api", {"type": 3}, {}])
def test_an_update_without_a_usable_creator_has_empty_creator_fields(phare_api, creator):
    phare_api.post("/uptime/incidents/7/updates").respond(201, json=UPDATE | {"creator": creator})
    created = client().create_incident_update(7, IncidentUpdatePayload("identified", "Rolling"))
    assert (created.creator_type, created.creator_label) == ("", "")


# -- list_incident_updates ---------------------------------------------------------------


def test_list_incident_updates_reads_every_page_by_number_at_100_a_page(phare_api):
    route = phare_api.get("/uptime/incidents/7/updates").mock(
        side_effect=[
            httpx.Response(
                200, json=a_page([update(1), update(2)], f"{API}/uptime/incidents/7/updates?page=2")
            ),
            httpx.Response(200, json=a_page([update(3)], None)),
        ]
    )
    updates = client().list_incident_updates(7)
    assert [u.id for u in updates] == [1, 2, 3]
    queries = [query_of(call.request) for call in route.calls]
    assert queries == [{"per_page": ["100"], "page": ["1"]}, {"per_page": ["100"], "page": ["2"]}]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in route.calls)


def test_list_incident_updates_never_follows_a_next_link_to_another_host(phare_api):
    elsewhere = phare_api.get("https://evil.example/uptime/incidents/7/updates").respond(
        200, json=a_page([], None)
    )
    route = phare_api.get("/uptime/incidents/7/updates").mock(
        side_effect=[
            httpx.Response(
                200,
                json=a_page([update(1)], "https://evil.example/uptime/incidents/7/updates?page=2"),
            ),
            httpx.Response(200, json=a_page([update(2)], None)),
        ]
    )
    assert [u.id for u in client().list_incident_updates(7)] == [1, 2]
    assert query_of(route.calls.last.request)["page"] == ["2"]
    assert route.calls.last.request.url.host == "phare.test"
    assert not elsewhere.called


def test_list_incident_updates_refuses_an_item_that_is_not_an_update(phare_api):
    phare_api.get("/uptime/incidents/7/updates").respond(
        200, json=a_page([update(1), {"id": 2, "state": "identified"}], None)
    )
    with pytest.raises(PhareBadResponse, match="does not describe an update"):
        client().list_incident_updates(7)


@pytest.mark.parametrize(
    "body", [{"data": "nope", "links": {}}, ["not", "an", "object"], {"links": {"next": None}}]
)
def test_list_incident_updates_refuses_a_page_of_the_wrong_shape(phare_api, body):
    phare_api.get("/uptime/incidents/7/updates").respond(200, json=body)
    with pytest.raises(PhareBadResponse, match="expected shape"):
        client().list_incident_updates(7)


def test_list_incident_updates_stops_after_a_bounded_number_of_pages(phare_api, monkeypatch):
    # A few pages stand for the real bound, which is more than a minute's read budget.
    monkeypatch.setattr(client_module, "MAX_UPDATE_PAGES", 3)
    route = phare_api.get("/uptime/incidents/7/updates").respond(
        200, json=a_page([], f"{API}/uptime/incidents/7/updates?page=2")
    )
    with pytest.raises(PhareBadResponse, match="did not end"):
        client().list_incident_updates(7)
    assert route.call_count == 3


def test_list_incident_updates_of_a_deleted_incident_says_it_no_longer_exists(phare_api):
    phare_api.get("/uptime/incidents/7/updates").respond(404, json=GONE)
    with pytest.raises(PhareNotFound, match="no longer exists in Phare"):
        client().list_incident_updates(7)


# -- list_incidents_page -----------------------------------------------------------------


def test_list_incidents_page_asks_for_one_page_filtered_by_monitors(phare_api):
    route = phare_api.get("/uptime/incidents").respond(
        200, json=a_page([INCIDENT], f"{API}/uptime/incidents?page=3")
    )
    page = client().list_incidents_page(2, monitor_ids=[1, 5])
    request = route.calls.last.request
    assert query_of(request) == {"per_page": ["100"], "page": ["2"], "monitor_id": ["1", "5"]}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [i.id for i in page.items] == [7]
    assert page.has_next is True


@pytest.mark.parametrize("links", [{"next": None}, {}, None])
def test_list_incidents_page_without_a_next_link_is_the_last(phare_api, links):
    route = phare_api.get("/uptime/incidents").respond(200, json={"data": [], "links": links})
    page = client().list_incidents_page(1)
    assert "monitor_id" not in query_of(route.calls.last.request)
    assert page.items == [] and page.has_next is False


def test_list_incidents_page_refuses_an_item_that_is_not_an_incident(phare_api):
    phare_api.get("/uptime/incidents").respond(
        200, json=a_page([INCIDENT, {"id": 8, "title": "no impact"}], None)
    )
    with pytest.raises(PhareBadResponse, match="does not describe an incident"):
        client().list_incidents_page(1)


# -- incident_edit_body ------------------------------------------------------------------


def test_incident_edit_body_sends_utc_times_keeps_nulls_and_copies_lists():
    paris = timezone(timedelta(hours=1))
    monitors = (1, 2)
    body = incident_edit_body(
        {
            "impact": "partial_outage",
            "title": "Checkout slow",
            "description": "",
            "exclude_from_downtime": False,
            "incident_at": datetime(2026, 11, 28, 11, 0, tzinfo=paris),
            "recovery_at": None,
            "monitors": monitors,
        }
    )
    assert body == {
        "impact": "partial_outage",
        "title": "Checkout slow",
        "description": "",
        "exclude_from_downtime": False,
        "incident_at": "2026-11-28T10:00:00Z",
        "recovery_at": None,
        "monitors": [1, 2],
    }
    assert json.dumps({"recovery_at": body["recovery_at"]}) == '{"recovery_at": null}'


def test_incident_edit_body_sends_only_the_keys_given():
    assert incident_edit_body({"title": "Checkout slow"}) == {"title": "Checkout slow"}


def test_incident_edit_body_refuses_an_unknown_key():
    with pytest.raises(ValueError, match="status"):
        incident_edit_body({"title": "Checkout slow", "status": "recovered"})


def test_incident_edit_body_refuses_a_naive_time():
    with pytest.raises(ValueError):
        incident_edit_body({"incident_at": datetime(2026, 11, 28, 10, 0)})


def test_incident_update_payload_without_a_time_has_no_published_at():
    assert IncidentUpdatePayload("resolved", "Fixed").to_json() == {
        "state": "resolved",
        "content": "Fixed",
    }
