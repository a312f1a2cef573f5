"""The console's copy of Phare's incidents (services/incident_copy.py) and the list read from it
(incident_search.py): changes made outside the console, refreshes and their leases, the list's
order, filters and keyset pages."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.http import QueryDict
from django.utils import timezone

from incidents import services
from incidents.incident_forms import values_of
from incidents.incident_search import Cursor, IncidentFilters, page_of
from incidents.models import AuditEntry, PhareIncident, PhareProject
from incidents.phare import IncidentPayload, IncidentUpdatePayload, PhareOutcomeUnknown
from incidents.services import incident_copy
from tests.helpers import DASHBOARD_USER, copied_incident, sandbox_incident

pytestmark = pytest.mark.django_db

OUTSIDE = "incident.changed_outside"


def outside_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=OUTSIDE).order_by("id"))


def refreshed(incident: PhareIncident) -> PhareIncident:
    copy = incident_copy.incident_refresh(incident.project, incident.phare_id)
    assert copy is not None
    return copy


# -- changes made outside the console -----------------------------------------------------------


def test_a_change_in_phare_is_marked_and_audited_once(project, sandbox):
    incident = copied_incident(project, sandbox)
    assert incident.changed_outside_at is None and outside_entries() == []
    sandbox.state.edit_incident(
        incident.phare_id, {"title": "Checkout down", "impact": "major_outage"}, control=True
    )

    copy = refreshed(incident)

    assert copy.changed_outside_at is not None
    assert copy.changed_outside_summary == (
        "title “Checkout slow” → “Checkout down”; impact partial outage → major outage"
    )
    assert (copy.title, copy.impact) == ("Checkout down", "major_outage")
    [entry] = outside_entries()
    assert entry.payload == {
        "before": {"title": "Checkout slow", "impact": "partial_outage"},
        "after": {"title": "Checkout down", "impact": "major_outage"},
    }
    assert (entry.actor, entry.actor_username, entry.outcome) == (None, "Phare", "recorded")
    assert (entry.phare_incident_id, entry.title) == (incident.phare_id, "Checkout down")

    refreshed(incident)  # nothing changed since
    assert len(outside_entries()) == 1


def test_a_recovery_in_phare_is_reported_with_its_time(project, sandbox):
    incident = copied_incident(project, sandbox, incident_at="2026-03-01T10:00:00Z")
    sandbox.state.edit_incident(
        incident.phare_id, {"recovery_at": "2026-03-01T11:30:00Z"}, control=True
    )
    copy = refreshed(incident)
    assert copy.changed_outside_summary == (
        "status ongoing → recovered; recovery at none → 2026-03-01 11:30 UTC"
    )
    assert copy.status_rank == 1
    [entry] = outside_entries()
    assert entry.payload["after"] == {
        "status": "recovered",
        "recovery_at": "2026-03-01T11:30:00+00:00",
    }


def test_an_update_posted_through_the_console_is_not_a_change_outside(project, sandbox, alice):
    incident = copied_incident(project, sandbox)
    services.incident_update_create(
        actor=alice,
        incident=incident,
        payload=IncidentUpdatePayload(state="identified", content="A bad deploy."),
        submission_key=uuid.uuid4(),
    )
    copy = refreshed(incident)
    assert copy.changed_outside_at is None
    assert outside_entries() == []
    [update] = copy.updates.all()
    assert (update.posted_by, update.author) == (alice, "alice")


def test_an_update_added_in_phare_is_a_change_outside(project, sandbox):
    incident = copied_incident(project, sandbox)
    sandbox.state.add_incident_update(
        incident.phare_id,
        {"state": "monitoring", "content": "Fixed by Phare's user."},
        DASHBOARD_USER,
    )
    copy = refreshed(incident)
    assert copy.changed_outside_summary == "new update Monitoring: “Fixed by Phare's user.”"
    [entry] = outside_entries()
    assert entry.payload == {
        "before": {"update": None},
        "after": {"update": "Monitoring: “Fixed by Phare's user.”"},
    }
    [update] = copy.updates.all()
    assert (update.posted_by, update.author) == (None, "Phare dashboard user")
    refreshed(incident)
    assert len(outside_entries()) == 1


def test_an_update_already_there_at_the_first_read_is_not_a_change(project, sandbox):
    made = sandbox_incident(sandbox)
    sandbox.state.add_incident_update(
        made["id"], {"state": "investigating", "content": "Looking."}, DASHBOARD_USER
    )
    copy = incident_copy.incident_refresh(project, made["id"])
    assert copy is not None and copy.updates.count() == 1
    assert outside_entries() == [] and copy.changed_outside_at is None


def test_the_consoles_own_writes_are_not_changes_outside(project, sandbox, project_admin):
    attempt = services.incident_create(
        actor=project_admin,
        project=project,
        payload=IncidentPayload(
            impact="partial_outage", title="Search slow", exclude_from_downtime=False
        ),
        submission_key=uuid.uuid4(),
    )
    incident = PhareIncident.objects.get(phare_id=attempt.phare_incident_id)
    base = values_of(incident)
    services.incident_edit(
        actor=project_admin,
        incident=incident,
        values=base | {"title": "Search down", "impact": "major_outage"},
        base=base,
        submission_key=uuid.uuid4(),
    )
    copy = refreshed(incident)
    assert (copy.title, copy.impact) == ("Search down", "major_outage")
    services.incident_recover(actor=project_admin, incident=copy, submission_key=uuid.uuid4())
    copy = refreshed(copy)
    assert copy.status == "recovered"
    incident_copy.incident_list_refresh(project, full=True)
    copy.refresh_from_db()
    assert copy.changed_outside_at is None
    assert outside_entries() == []


def edit(actor, incident, key=None, **values):
    base = values_of(incident)
    return services.incident_edit(
        actor=actor,
        incident=incident,
        values=base | values,
        base=base,
        submission_key=key or uuid.uuid4(),
    )


def test_the_consoles_writes_without_an_answer_are_not_changes_outside(
    project, sandbox, project_admin
):
    incident = copied_incident(project, sandbox)
    for route in ("edit_incident", "create_incident_update", "recover_incident"):
        sandbox.state.add_fault(route=route, action="process_then_drop")
    edit_key, update_key, recover_key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with pytest.raises(PhareOutcomeUnknown):
        edit(project_admin, incident, edit_key, title="Checkout down", monitors=[1, 2])
    with pytest.raises(PhareOutcomeUnknown):
        services.incident_update_create(
            actor=project_admin,
            incident=incident,
            payload=IncidentUpdatePayload(state="monitoring", content="Rolled back."),
            submission_key=update_key,
        )
    with pytest.raises(PhareOutcomeUnknown):
        services.incident_recover(
            actor=project_admin, incident=incident, submission_key=recover_key
        )

    copy = refreshed(incident)  # the page's polling, before anyone presses again

    assert (copy.title, copy.monitors, copy.status) == ("Checkout down", [1, 2], "recovered")
    assert copy.updates.get().content == "Rolled back."
    assert copy.changed_outside_at is None
    assert outside_entries() == []


def test_a_change_outside_beside_an_unanswered_edit_is_still_reported(
    project, sandbox, project_admin
):
    incident = copied_incident(project, sandbox)
    sandbox.state.add_fault(route="edit_incident", action="process_then_drop")
    with pytest.raises(PhareOutcomeUnknown):
        edit(project_admin, incident, title="Checkout down")
    sandbox.state.edit_incident(incident.phare_id, {"impact": "major_outage"}, control=True)
    sandbox.state.add_incident_update(
        incident.phare_id, {"state": "identified", "content": "From the dashboard."}, DASHBOARD_USER
    )
    copy = refreshed(incident)
    assert copy.changed_outside_summary == "new update Identified: “From the dashboard.”"
    [title_and_impact, update] = outside_entries()
    assert title_and_impact.payload == {
        "before": {"impact": "partial_outage"},
        "after": {"impact": "major_outage"},
    }
    assert update.payload["after"] == {"update": "Identified: “From the dashboard.”"}


def test_a_change_outside_to_another_value_than_the_unanswered_edit_is_reported(
    project, sandbox, project_admin
):
    incident = copied_incident(project, sandbox)
    sandbox.state.add_fault(route="edit_incident", action="drop")  # never applied
    with pytest.raises(PhareOutcomeUnknown):
        edit(project_admin, incident, title="Checkout down")
    sandbox.state.edit_incident(incident.phare_id, {"title": "Payments down"}, control=True)
    copy = refreshed(incident)
    assert copy.changed_outside_summary == "title “Checkout slow” → “Payments down”"


@pytest.mark.django_db(transaction=True)
def test_a_refresh_while_the_consoles_edit_is_still_sending_is_not_a_change_outside(
    project, sandbox, project_admin
):
    incident = copied_incident(project, sandbox)
    sandbox.state.add_fault(route="edit_incident", action="process_then_delay", delay_ms=1500)
    done = threading.Event()

    def save() -> None:
        try:
            edit(project_admin, incident, title="Checkout down")
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=save)
    thread.start()
    deadline = time.monotonic() + 10
    while sandbox.state.get_incident(incident.phare_id)["title"] != "Checkout down":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not done.is_set()  # Phare made the change; its answer is still on the way

    copy = refreshed(incident)

    thread.join(10)
    assert copy.title == "Checkout down"
    assert copy.changed_outside_at is None
    assert outside_entries() == []


def test_a_refresh_of_an_incident_deleted_in_phare_marks_it_deleted(project, sandbox):
    incident = copied_incident(project, sandbox)
    sandbox.state.delete_incident(incident.phare_id)
    assert incident_copy.incident_refresh(project, incident.phare_id) is None
    incident.refresh_from_db()
    assert incident.deleted_in_phare_at is not None


# -- refreshing the list ----------------------------------------------------------------------


def test_a_full_refresh_marks_incidents_gone_from_phare_as_deleted(project, sandbox):
    made = [sandbox_incident(sandbox, title=f"Incident {n}") for n in range(3)]
    assert incident_copy.incident_list_refresh(project, full=True) == 3
    sandbox.state.delete_incident(made[1]["id"])

    assert incident_copy.incident_list_refresh(project, full=True) == 2

    deleted = {i.phare_id: i.deleted_in_phare_at is not None for i in PhareIncident.objects.all()}
    assert deleted == {made[0]["id"]: False, made[1]["id"]: True, made[2]["id"]: False}
    project.refresh_from_db()
    assert project.incidents_read_at is not None
    assert project.incidents_first_page_read_at is not None
    assert project.incidents_refresh_error == ""


def test_a_first_page_refresh_also_reads_ongoing_incidents_beyond_it(project, sandbox):
    oldest = sandbox_incident(sandbox, title="Oldest, still ongoing")
    for n in range(100):
        sandbox_incident(sandbox, title=f"Newer {n}", recovery_at="2099-01-01T00:00:00Z")
    incident_copy.incident_list_refresh(project, full=True)
    sandbox.state.edit_incident(oldest["id"], {"impact": "major_outage"}, control=True)
    sandbox.state.request_log.clear()

    assert incident_copy.incident_list_refresh(project, full=False) == 100

    copy = PhareIncident.objects.get(phare_id=oldest["id"])
    assert copy.impact == "major_outage"  # read on its own, not on the first page
    assert copy.deleted_in_phare_at is None  # not seen on the page is not gone
    assert f"GET /uptime/incidents/{oldest['id']}" in sandbox.state.request_log
    assert not any("page=2" in line for line in sandbox.state.request_log)


def test_a_monitor_incident_is_listed_as_from_phares_monitoring(project, sandbox, project_admin):
    sandbox.state.open_monitor_incident({"monitor_id": 3})
    sandbox_incident(sandbox, title="Declared in Phare's dashboard")
    services.incident_create(
        actor=project_admin,
        project=project,
        payload=IncidentPayload(
            impact="unknown", title="Declared here", exclude_from_downtime=False
        ),
        submission_key=uuid.uuid4(),
    )
    incident_copy.incident_list_refresh(project, full=False)
    page = page_of(project, IncidentFilters())
    sources = {row.incident.title: row.source for row in page.rows}
    monitor_name = project.monitors.get(phare_id=3).name
    assert sources == {
        f"{monitor_name} is down": "Phare's monitoring",
        "Declared in Phare's dashboard": "Phare",
        "Declared here": "Console, by dave",
    }


def test_a_refresh_holding_the_lease_is_not_started_twice(project, sandbox):
    PhareProject.objects.filter(pk=project.pk).update(
        incidents_lease_until=timezone.now() + timedelta(seconds=30)
    )
    sandbox_incident(sandbox)
    alice = project.memberships.get().user
    assert incident_copy.incident_list_refresh_start(actor=alice, project=project) is False
    assert not PhareIncident.objects.exists()
    # A lease that ran out (its holder died) is taken over.
    PhareProject.objects.filter(pk=project.pk).update(
        incidents_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert incident_copy.incident_list_refresh_if_stale(project) is True
    assert PhareIncident.objects.count() == 1
    project.refresh_from_db()
    assert project.incidents_lease_until is None  # released when done
    assert incident_copy.incident_list_refresh_if_stale(project) is False  # fresh now


def test_a_failed_list_refresh_is_recorded_and_pauses_before_the_next(project, sandbox, settings):
    settings.INCIDENT_REFRESH_SECONDS = 30
    sandbox.state.add_fault(route="list_incidents", status=503)
    assert incident_copy.incident_list_refresh_if_stale(project) is True
    project.refresh_from_db()
    assert "503" in project.incidents_refresh_error
    # The lease stays as a pause: the next poll does not try again at once.
    assert project.incidents_lease_until > timezone.now() + timedelta(seconds=20)
    assert incident_copy.incident_list_refresh_if_stale(project) is False


def test_an_incident_page_refreshes_only_when_stale_and_not_leased(project, sandbox, settings):
    incident = copied_incident(project, sandbox)
    assert incident_copy.incident_refresh_if_stale(incident) is False  # just read
    settings.INCIDENT_DETAIL_REFRESH_SECONDS = 0
    PhareIncident.objects.filter(pk=incident.pk).update(
        lease_until=timezone.now() + timedelta(seconds=30)
    )
    incident.refresh_from_db()
    assert incident_copy.incident_refresh_if_stale(incident) is False  # someone else reads it
    PhareIncident.objects.filter(pk=incident.pk).update(lease_until=None)
    sandbox.state.edit_incident(incident.phare_id, {"title": "Read again"}, control=True)
    assert incident_copy.incident_refresh_if_stale(incident) is True
    incident.refresh_from_db()
    assert (incident.title, incident.lease_until) == ("Read again", None)


# -- the list: order, filters, keyset pages ---------------------------------------------------


START = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_order(incidents) -> list[int]:
    return [
        i.phare_id
        for i in sorted(
            incidents, key=lambda i: (i.status_rank, -i.started_at.timestamp(), -i.phare_id)
        )
    ]


def test_the_list_shows_ongoing_first_then_the_newest(project, sandbox):
    old_ongoing = sandbox_incident(sandbox, title="Old, ongoing", incident_at=at(0))
    new_recovered = sandbox_incident(
        sandbox, title="New, recovered", incident_at=at(600), recovery_at=at(660)
    )
    new_ongoing = sandbox_incident(sandbox, title="New, ongoing", incident_at=at(300))
    old_recovered = sandbox_incident(
        sandbox, title="Old, recovered", incident_at=at(10), recovery_at=at(20)
    )
    incident_copy.incident_list_refresh(project, full=True)
    page = page_of(project, IncidentFilters())
    assert [row.incident.phare_id for row in page.rows] == [
        new_ongoing["id"],
        old_ongoing["id"],
        new_recovered["id"],
        old_recovered["id"],
    ]
    assert page.newer is None and page.older is None


def test_filters_by_status_impact_monitor_and_title(project, sandbox):
    sandbox_incident(sandbox, title="Checkout slow", impact="degraded_performance", monitors=[1])
    sandbox_incident(sandbox, title="Checkout down", impact="major_outage", monitors=[1, 12])
    sandbox_incident(sandbox, title="Search down", impact="major_outage", monitors=[2])
    sandbox_incident(
        sandbox,
        title="Login errors",
        impact="partial_outage",
        monitors=[12],
        incident_at=at(0),
        recovery_at=at(5),
    )
    incident_copy.incident_list_refresh(project, full=True)

    def titles(**query) -> set[str]:
        filters = IncidentFilters.from_query(QueryDict(mutable=True) | query)
        return {row.incident.title for row in page_of(project, filters).rows}

    assert titles(status="recovered") == {"Login errors"}
    assert titles(status="ongoing") == {"Checkout slow", "Checkout down", "Search down"}
    assert titles(impact="major_outage") == {"Checkout down", "Search down"}
    assert titles(monitor="1") == {"Checkout slow", "Checkout down"}
    assert titles(monitor="12") == {"Checkout down", "Login errors"}  # not monitor 1 or 2
    assert titles(q="DOWN") == {"Checkout down", "Search down"}
    assert titles(q="checkout", impact="major_outage", status="ongoing") == {"Checkout down"}
    # Values that are not a filter are ignored, never an error.
    assert len(titles(status="lost", impact="huge", monitor="-1", q="")) == 4
    assert titles(monitor="99999999999999999999") == titles()


def test_keyset_pages_have_no_overlap_and_no_gaps(project, sandbox):
    for n in range(120):
        fields = {"title": f"Incident {n:03}", "incident_at": at(n // 3)}  # ties in threes
        if n % 5 == 0:
            fields["recovery_at"] = at(n // 3 + 1)
        sandbox_incident(sandbox, **fields)
    assert incident_copy.incident_list_refresh(project, full=True) == 120
    everything = expected_order(PhareIncident.objects.filter(project=project))

    seen: list[list[int]] = []
    page = page_of(project, IncidentFilters())
    while True:
        seen.append([row.incident.phare_id for row in page.rows])
        if page.older is None:
            break
        # The cursor survives the round trip through a link.
        cursor = Cursor.decode(page.older.encode())
        page = page_of(project, IncidentFilters(), before=cursor)
    assert [len(ids) for ids in seen] == [50, 50, 20]
    assert [i for ids in seen for i in ids] == everything
    assert page.newer is not None

    # Back towards the newest: the same pages again.
    back = page_of(project, IncidentFilters(), after=page.newer)
    assert [row.incident.phare_id for row in back.rows] == seen[1]
    assert back.older is not None and back.newer is not None
    first = page_of(project, IncidentFilters(), after=back.newer)
    assert [row.incident.phare_id for row in first.rows] == seen[0]
    assert first.newer is None and first.older is not None


def test_keyset_pages_follow_a_filter(project, sandbox):
    for n in range(60):
        sandbox_incident(
            sandbox, title=f"{'Disk' if n % 2 else 'CPU'} alert {n}", incident_at=at(n % 7)
        )
    incident_copy.incident_list_refresh(project, full=True)
    filters = IncidentFilters(text="disk")
    first = page_of(project, filters, size=20)
    second = page_of(project, filters, before=first.older, size=20)
    ids = [row.incident.phare_id for row in first.rows + second.rows]
    assert len(ids) == len(set(ids)) == 30
    assert second.older is None
    assert all("Disk" in row.incident.title for row in first.rows + second.rows)


@pytest.mark.parametrize(
    "text", ["", "1-2", "a-b-c", "1-2-3-4", "-1-2-3", "1-99999999999999999999-3", "١-٢-٣"]
)
def test_a_damaged_cursor_is_no_cursor(text):
    assert Cursor.decode(text) is None


def test_a_cursor_holds_the_largest_phare_id():
    largest = Cursor(0, timezone.now(), 2**63 - 1)
    assert Cursor.decode(largest.encode()) == largest
