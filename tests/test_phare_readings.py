"""The client's reconciliation and monitor sync against every reading of Phare's documentation
the sandbox can play (phare_sandbox/readings.py), over real HTTP.

A create whose answer was lost is looked for in Phare before it is sent again: under every
reading the console finds it when Phare has it, sends it once when Phare does not, and sends
nothing when it cannot read the whole list. A sync reads every monitor whatever the links say.
"""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict

from incidents import services
from incidents.exceptions import ReconciliationFailed
from incidents.forms import IncidentForm
from incidents.models import IncidentAttempt, PhareProject
from incidents.phare import PhareOutcomeUnknown
from incidents.phare import client as client_module
from phare_sandbox import SandboxState, start_in_thread
from phare_sandbox.seed import format_timestamp
from tests.helpers import SANDBOX_TOKEN, make_member

pytestmark = pytest.mark.django_db

READINGS = {
    "as_documented": {},
    "oldest_first": {"oldest_first": True},
    "monitor_filter_ignored": {"monitor_filter_ignored": True},
    "per_page_dropped_from_links": {"links_drop_per_page": True},
    "relative_links": {"links": "relative"},
    "http_links_behind_a_tls_proxy": {"links": "http://phare.internal"},
    "naive_timestamps": {"naive_timestamps": True},
    "incident_at_required": {"incident_at_required": True},
    "future_time_limit": {"max_future_minutes": 9},
    "unknown_keys_dropped": {"unknown_keys_dropped": True},
    "retry_after_0": {"retry_after_rounded_down": True},
}
TITLE = "Checkout returns 502"
MONITOR = 1


@pytest.fixture(params=list(READINGS))
def reading(request) -> str:
    return request.param


@pytest.fixture
def phare(reading, settings):
    """A sandbox of its own (so no reading leaks into other tests) with 250 monitors."""
    state = SandboxState(token=SANDBOX_TOKEN, monitor_count=250)
    state.configure(**READINGS[reading])
    if reading == "retry_after_0":
        # Two calls per half second: reading pages in a row, every third call is refused
        # with "Retry-After: 0" (the client waits a second).
        state.rate_limit, state.rate_limit_window_s = 2, 0.5
    sandbox = start_in_thread(state)
    settings.PHARE_API_URL = sandbox.url
    yield sandbox
    sandbox.stop()


@pytest.fixture
def shop(phare, alice) -> PhareProject:
    project, _ = services.project_provision(name="Readings", token=SANDBOX_TOKEN)
    make_member(alice, project)
    services.monitor_sync(actor=None, project=project)
    return project


def list_queries(sandbox, path: str) -> list[dict[str, list[str]]]:
    """The query of each GET of `path` the sandbox received."""
    queries = []
    for line in sandbox.state.request_log:
        method, target = line.split(" ", 1)
        if method == "GET" and urlsplit(target).path == path:
            queries.append(parse_qs(urlsplit(target).query))
    return queries


def test_a_sync_reads_every_monitor_at_100_a_page_by_number(shop, phare, reading):
    phare.state.delete_monitor(250)
    result = services.monitor_sync(actor=None, project=shop)
    assert (result.total, result.removed) == (249, 1)
    pages = {tuple(q["page"]) for q in list_queries(phare, "/uptime/monitors")}
    assert pages == {("1",), ("2",), ("3",)}
    assert all(q["per_page"] == ["100"] for q in list_queries(phare, "/uptime/monitors"))
    copy = shop.monitors.get(phare_id=1)
    in_phare = datetime.fromisoformat(phare.state.monitors[1]["last_checked_at"])
    assert copy.last_checked_at == in_phare and copy.last_checked_at.tzinfo is not None


def add_incidents(sandbox, count: int, *, title: str, monitors: list[int], ago: timedelta | None):
    """Incidents made in Phare itself, created `ago` (None: now)."""
    started = format_timestamp(datetime.now(UTC) - timedelta(days=2))
    for number in range(count):
        made = sandbox.state.create_incident(
            {
                "title": f"{title} {number}",
                "impact": "partial_outage",
                "exclude_from_downtime": False,
                "incident_at": started,
                "monitors": monitors,
            }
        )
        if ago is not None:
            with sandbox.state.lock:
                index = next(n for n, i in enumerate(sandbox.state.incidents) if i is made)
                when = format_timestamp(datetime.now(UTC) - ago)
                sandbox.state.incidents[index] = {**made, "created_at": when}


def create(project, actor, key: uuid.UUID):
    """What the create form sends: the start left empty, one monitor."""
    data = QueryDict(mutable=True)
    data.update(
        {"submission_key": str(key), "impact": "major_outage", "title": TITLE, "timezone": "UTC"}
    )
    data.setlist("monitors", [str(MONITOR)])
    form = IncidentForm(data, project=project)
    assert form.is_valid(), form.errors
    return services.incident_create(
        actor=actor,
        project=project,
        payload=form.to_payload(),
        submission_key=key,
        allow_duplicate=True,
    )


def unanswered_create(project, actor, sandbox, settings, **fault) -> uuid.UUID:
    """A create whose answer is lost (PhareOutcomeUnknown), amid 150 older incidents on the
    same monitor and, after it, 150 newer ones and 50 on another monitor: four pages or more
    to read, whatever the order."""
    add_incidents(sandbox, 150, title="Old", monitors=[MONITOR], ago=timedelta(days=1))
    settings.PHARE_TIMEOUT = 0.5
    sandbox.state.add_fault(route="create_incident", **fault)
    key = uuid.uuid4()
    with pytest.raises(PhareOutcomeUnknown):
        create(project, actor, key)
    settings.PHARE_TIMEOUT = 5.0
    add_incidents(sandbox, 150, title="Newer", monitors=[MONITOR], ago=None)
    add_incidents(sandbox, 50, title="Elsewhere", monitors=[2], ago=None)
    return key


def ours(sandbox) -> list[dict]:
    return [i for i in sandbox.state.incidents if i["title"] == TITLE]


def test_a_create_phare_made_is_found_and_not_sent_again(shop, phare, alice, settings, reading):
    key = unanswered_create(
        shop, alice, phare, settings, action="process_then_delay", delay_ms=1500
    )
    assert len(ours(phare)) == 1  # Phare made it; the answer was lost
    attempt = create(shop, alice, key)
    assert attempt.state == IncidentAttempt.State.CREATED and attempt.found_in_phare
    assert attempt.phare_incident_id == ours(phare)[0]["id"]
    assert len(phare.state.create_requests) == 1
    queries = list_queries(phare, "/uptime/incidents")
    assert all(q["per_page"] == ["100"] for q in queries)
    assert all(q["monitor_id"] == [str(MONITOR)] for q in queries)


def test_a_create_that_never_arrived_is_sent_once_more(shop, phare, alice, settings, reading):
    key = unanswered_create(shop, alice, phare, settings, action="drop")
    assert ours(phare) == []
    attempt = create(shop, alice, key)
    assert attempt.state == IncidentAttempt.State.CREATED and not attempt.found_in_phare
    assert len(ours(phare)) == 1
    assert len(phare.state.create_requests) == 2  # the dropped one, and this one
    # Every page was read before deciding it was not there (3 on the monitor, 4 unfiltered).
    pages = {int(q["page"][0]) for q in list_queries(phare, "/uptime/incidents")}
    assert pages == set(range(1, 5 if reading == "monitor_filter_ignored" else 4))


@pytest.mark.parametrize("reading", ["as_documented", "oldest_first"])
def test_an_incident_that_cannot_be_read_stops_the_create(shop, phare, alice, settings, reading):
    key = unanswered_create(shop, alice, phare, settings, action="drop")
    with phare.state.lock:  # an incident whose id the console cannot store
        phare.state.incidents[0] = {**phare.state.incidents[0], "id": 2**64}
    with pytest.raises(ReconciliationFailed, match="does not describe an incident"):
        create(shop, alice, key)
    assert len(phare.state.create_requests) == 1 and ours(phare) == []
    assert IncidentAttempt.objects.get(submission_key=key).state == IncidentAttempt.State.UNKNOWN


@pytest.mark.parametrize("reading", ["as_documented"])
def test_more_pages_than_the_bound_stop_the_create(shop, phare, alice, settings, monkeypatch):
    key = unanswered_create(shop, alice, phare, settings, action="drop")
    monkeypatch.setattr(client_module, "RECONCILE_PAGES", 2)
    with pytest.raises(ReconciliationFailed, match="more than 200 incidents to look through"):
        create(shop, alice, key)
    assert len(phare.state.create_requests) == 1 and ours(phare) == []
