"""Arbitrary JSON as Phare's answer: every parser and page helper gives a value the console can
store, or a PhareError; no other exception ever escapes (a 500, an attempt left "sending")."""

import contextlib
import json
from datetime import UTC, datetime

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from incidents.models import PhareProject
from incidents.phare import (
    Incident,
    IncidentPayload,
    IncidentUpdate,
    IncidentUpdatePayload,
    MonitorSummary,
    PhareClient,
    PhareError,
    schemas,
)
from incidents.phare import client as client_module
from incidents.phare.errors import EDIT_INCIDENT, field_errors_from, message_in
from tests.helpers import PHARE_INCIDENT, PHARE_INCIDENT_UPDATE, project_with_token

API = "https://phare.test"
MAX_ID = 2**63 - 1
INCIDENT = PHARE_INCIDENT
UPDATE = PHARE_INCIDENT_UPDATE
MONITOR = {
    "id": 4,
    "name": "checkout",
    "status": "online",
    "paused": False,
    "protocol": "http",
    "request": {"url": "https://shop.example/health"},
    "last_checked_at": "2026-11-28T10:00:00.000000Z",
}

# Values Phare's answers could hold where an id, a time or a text is expected.
ODD_SCALARS = st.sampled_from(
    [
        float("inf"),  # what Python reads from the JSON number 1e400
        float("-inf"),
        float("nan"),
        2**63,
        2**64,
        -(2**63),
        0,
        -1,
        7.0,
        True,
        False,
        "",
        "12",
        "0012",
        "١٢",
        "1_0",
        " 7",
        "9" * 5000,
        "2026-11-28T10:00:00",
        "2026-11-28 10:00:00",
        "2026-11-28",
        "2026-02-30T10:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-11-28T10:00:00+99:00",
        "S" * 500,
        "\x00",
        "🔥",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    ODD_SCALARS,
)
KEYS = st.one_of(
    st.sampled_from(
        sorted(set(INCIDENT) | set(UPDATE) | set(MONITOR))
        + [
            "data",
            "links",
            "meta",
            "next",
            "current_page",
            "uptime_monitor_id",
            "errors",
            "message",
        ]
    ),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def near(draw, valid: dict) -> dict:
    """`valid` with a few keys dropped or given odd values."""
    body = dict(valid)
    for key in draw(st.lists(st.sampled_from([*sorted(valid), "extra"]), unique=True, max_size=4)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(st.one_of(ODD_SCALARS, JSON))
    return body


ITEMS = {"incident": near(INCIDENT), "update": near(UPDATE), "monitor": near(MONITOR)}
NEXT = st.one_of(
    st.none(), st.sampled_from(["/uptime/x?page=2", "http://other/x?page=2", "", "?page=2"]), JSON
)


@st.composite
def pages(draw, kind: str):
    item = st.one_of(
        ITEMS[kind],
        st.just({"incident": INCIDENT, "update": UPDATE, "monitor": MONITOR}[kind]),
        JSON,
    )
    page = {
        "data": draw(st.one_of(st.lists(item, max_size=4), JSON)),
        "meta": draw(
            st.one_of(
                st.fixed_dictionaries({"current_page": st.one_of(st.integers(0, 3), JSON)}), JSON
            )
        ),
        "links": draw(st.one_of(st.fixed_dictionaries({"next": NEXT}), JSON)),
    }
    for key in draw(st.lists(st.sampled_from(["data", "meta", "links"]), unique=True, max_size=2)):
        del page[key]
    return draw(st.one_of(st.just(page), JSON))


def anything(kind: str):
    return st.one_of(ITEMS[kind], pages(kind), JSON)


FUZZ = hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_storable_time(moment: datetime | None) -> None:
    assert moment is None or moment.utcoffset() is not None


def assert_storable_incident(incident: Incident) -> None:
    assert 1 <= incident.id <= MAX_ID
    assert all(1 <= monitor <= MAX_ID for monitor in incident.monitors)
    assert len(incident.slug) <= 100
    assert all(isinstance(text, str) for text in (incident.title, incident.impact, incident.slug))
    for moment in (incident.incident_at, incident.recovery_at, incident.created_at):
        assert_storable_time(moment)


@FUZZ
@given(body=anything("incident"), write=st.booleans())
def test_parse_incident(body, write):
    try:
        incident = schemas.parse_incident(body, write=write, status=200, write_kind=EDIT_INCIDENT)
    except PhareError:
        return
    assert_storable_incident(incident)


@FUZZ
@given(body=anything("update"), write=st.booleans())
def test_parse_incident_update(body, write):
    try:
        update = schemas.parse_incident_update(body, write=write, status=201)
    except PhareError:
        return
    assert isinstance(update, IncidentUpdate)
    assert 1 <= update.id <= MAX_ID
    assert update.incident_id is None or 1 <= update.incident_id <= MAX_ID
    for moment in (update.published_at, update.created_at, update.updated_at):
        assert_storable_time(moment)


@FUZZ
@given(item=anything("monitor"))
def test_parse_monitor(item):
    try:
        monitor = schemas.parse_monitor(item)
    except PhareError:
        return
    assert isinstance(monitor, MonitorSummary)
    assert 1 <= monitor.id <= MAX_ID
    assert len(monitor.name) <= 255 and len(monitor.status) <= 20
    assert len(monitor.protocol) <= 10 and len(monitor.target) <= 2048
    assert_storable_time(monitor.last_checked_at)


@FUZZ
@given(body=JSON)
def test_error_bodies(body):
    assert isinstance(message_in(body, "default"), str)
    errors = field_errors_from(body)
    assert all(isinstance(m, str) for messages in errors.values() for m in messages)


@FUZZ
@given(body=st.one_of(pages("incident"), pages("monitor"), JSON), page=st.integers(1, 3))
def test_page_helpers(body, page):
    try:
        items, has_next = client_module._page_of(body, "list", page)
        incidents = client_module._incidents_in(items)
    except PhareError:
        return
    assert isinstance(has_next, bool)
    for incident in incidents:
        assert_storable_incident(incident)


# -- the client's calls, with the same answers over (mocked) HTTP ------------------------


@pytest.fixture
def phare_api(settings, db):
    settings.PHARE_API_URL = API
    settings.PHARE_RATE_LIMIT = 1_000_000
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def answer(body) -> httpx.Response:
    # json.dumps writes inf and nan as Infinity and NaN, which Python's reader accepts back.
    return httpx.Response(
        200, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


def project() -> PhareProject:
    return project_with_token("pha_fuzz_token")


CALLS = {
    "list_monitors": lambda client: client.list_monitors(),
    "incidents_created_since": lambda client: client.incidents_created_since(
        since=datetime(2026, 11, 28, tzinfo=UTC), monitor_ids=[1]
    ),
    "list_incidents": lambda client: client.list_incidents(
        since=datetime(2026, 11, 28, tzinfo=UTC)
    ),
    "list_incidents_page": lambda client: client.list_incidents_page(1),
    "list_incident_updates": lambda client: client.list_incident_updates(7),
    "get_incident": lambda client: client.get_incident(7),
    "create_incident": lambda client: client.create_incident(
        IncidentPayload(impact="unknown", title="Fuzz", exclude_from_downtime=False)
    ),
    "edit_incident": lambda client: client.edit_incident(7, {"title": "Fuzz"}),
    "create_incident_update": lambda client: client.create_incident_update(
        7, IncidentUpdatePayload(state="identified", content="Fuzz")
    ),
}
KIND_OF = {
    "list_monitors": "monitor",
    "list_incident_updates": "update",
    "create_incident_update": "update",
}


@FUZZ
@given(call=st.sampled_from(sorted(CALLS)), data=st.data())
def test_every_call_gives_a_value_or_a_phare_error(phare_api, call, data):
    body = data.draw(anything(KIND_OF.get(call, "incident")))
    phare_api.route().mock(return_value=answer(body))
    with contextlib.suppress(PhareError):  # anything else fails the test
        CALLS[call](PhareClient(project()))


@pytest.mark.django_db
def test_json_nested_deeper_than_python_reads_is_a_phare_error(phare_api):
    phare_api.route().mock(
        return_value=httpx.Response(200, content=b"[" * 200_000 + b"]" * 200_000)
    )
    for call in CALLS.values():
        with pytest.raises(PhareError):
            call(PhareClient(project()))
