"""The console's copy of Phare's monitors: paging, background refresh, failures, budget,
and the cooldown of Refresh monitors."""

import time
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import ratelimit, services
from incidents.models import SYNC_LEASE, PhareProject
from incidents.phare import IncidentPayload, PhareClient, PhareRateLimited, PhareUnavailable
from incidents.services import background
from incidents.services import monitors as monitor_services
from phare_sandbox import SandboxState, start_in_thread
from tests.helpers import HTMX, SANDBOX_TOKEN, make_member


@pytest.fixture
def big_sandbox(settings):
    """A sandbox with three pages of monitors."""
    sandbox = start_in_thread(SandboxState(token=SANDBOX_TOKEN, monitor_count=250))
    settings.PHARE_API_URL = sandbox.url
    yield sandbox
    sandbox.stop()


@pytest.fixture
def big_project(big_sandbox, alice, db) -> PhareProject:
    project, _ = services.project_provision(name="Big", token=SANDBOX_TOKEN)
    make_member(alice, project)
    return project


def list_calls(sandbox) -> int:
    return sum(1 for line in sandbox.state.request_log if line.startswith("GET /uptime/monitors"))


def test_sync_reads_every_page_at_100_per_page(big_project, big_sandbox):
    result = services.monitor_sync(actor=None, project=big_project)
    assert (result.total, result.added, result.removed) == (250, 250, 0)
    assert big_project.monitors.count() == 250
    assert list_calls(big_sandbox) == 3


def test_failure_part_way_keeps_the_last_complete_copy_and_says_so(
    alice_client, big_project, big_sandbox
):
    services.monitor_sync(actor=None, project=big_project)
    big_sandbox.state.delete_monitor(1)
    big_sandbox.state.add_fault(route="list_monitors", after=1, count=1, status=500)
    with pytest.raises(PhareUnavailable):
        services.monitor_sync(actor=None, project=big_project)
    assert big_project.monitors.count() == 250  # monitor 1 was not dropped on a partial read
    page = alice_client.get(big_project.get_absolute_url()).content.decode()
    assert "The last refresh failed" in page and "Phare is having trouble (500)" in page
    services.monitor_sync(actor=None, project=big_project)
    big_project.refresh_from_db()
    assert big_project.monitors_sync_error == "" and big_project.monitors.count() == 249


def test_a_429_part_way_pauses_the_sync_then_resumes(big_project, big_sandbox):
    big_sandbox.state.add_fault(route="list_monitors", after=1, count=1, status=429, retry_after=0)
    result = services.monitor_sync(actor=None, project=big_project)
    assert result.total == 250
    assert list_calls(big_sandbox) == 4  # page 2 read again after Retry-After + 1 s


def test_reads_never_take_the_room_kept_for_writes(project, sandbox, alice, settings):
    settings.PHARE_RATE_LIMIT, settings.PHARE_WRITE_RESERVE = 5, 2
    budget = ratelimit.budget()
    while budget.try_acquire(project.rate_limit_key, ratelimit.CallKind.READ) == 0:
        pass  # reads spend their whole share (the fixture's sync took one already)
    with pytest.raises(PhareRateLimited, match="holding back"):
        PhareClient(project).list_monitors(max_wait=0)
    attempt = services.incident_create(
        actor=alice,
        project=project,
        payload=IncidentPayload(impact="unknown", title="Still goes", exclude_from_downtime=False),
        submission_key=uuid.uuid4(),
    )
    assert attempt.state == "created"


@pytest.mark.django_db(transaction=True)
def test_opening_a_stale_form_refreshes_in_the_background(alice, alice_client, sandbox, settings):
    settings.MONITOR_SYNC_IN_BACKGROUND = True
    project, _ = services.project_provision(name="Fresh", token=SANDBOX_TOKEN)
    make_member(alice, project)
    sandbox.state.latency_ms = 500  # the refresh is still reading when the page is sent
    page = alice_client.get(project.get_absolute_url()).content.decode()
    assert "Refreshing the monitor list from Phare" in page
    assert 'hx-trigger="every 2s"' in page
    assert services.monitor_sync_start(actor=None, project=project) is False  # one at a time
    background.wait_for_background_work()
    project.refresh_from_db()
    assert project.monitors.count() == 36 and not project.monitors_syncing
    status_url = reverse("incidents:monitor_sync_status", kwargs={"slug": project.slug})
    status = alice_client.get(status_url, **HTMX)
    assert "every 2s" not in status.content.decode()
    assert "monitors-refreshed" in status["HX-Trigger"]


@pytest.mark.django_db(transaction=True)
def test_a_fresh_copy_is_not_refreshed_again(alice, alice_client, sandbox, settings):
    settings.MONITOR_SYNC_IN_BACKGROUND = True
    project, _ = services.project_provision(name="Fresh", token=SANDBOX_TOKEN)
    make_member(alice, project)
    services.monitor_sync(actor=None, project=project)
    alice_client.get(project.get_absolute_url())
    background.wait_for_background_work()
    monitor_reads = [line for line in sandbox.state.request_log if "/uptime/monitors" in line]
    assert len(monitor_reads) == 1  # the sync above; the page read only recent incidents


def test_search_over_many_shows_50_with_the_count_and_no_select_all(
    alice_client, big_project, big_sandbox
):
    services.monitor_sync(actor=None, project=big_project)
    url = reverse("incidents:monitor_search", kwargs={"slug": big_project.slug})
    html = alice_client.get(url, {"q": ""}, **HTMX).content.decode()
    assert html.count('name="monitors"') == 50
    assert "250 monitors, showing the first 50" in html
    assert "Select all" not in html


def test_one_refresh_at_a_time_and_only_the_owner_frees_its_lease(project, sandbox):
    first = monitor_services._claim_sync_lease(project)
    with pytest.raises(services.SyncAlreadyRunning):
        services.monitor_sync(actor=None, project=project)
    # The first refresh stops beating; after the lease a second one may start...
    PhareProject.objects.filter(pk=project.pk).update(monitors_sync_heartbeat_at=first - SYNC_LEASE)
    second = monitor_services._claim_sync_lease(project)
    assert second is not None
    # ...and when the first one finally ends, it does not free the second one's lease.
    monitor_services._sync_holding_lease(project, first)
    project.refresh_from_db()
    assert project.monitors_sync_started_at == second and project.monitors_syncing


def test_the_command_skips_a_project_being_refreshed(project, sandbox):
    from io import StringIO

    from django.core.management import call_command

    monitor_services._claim_sync_lease(project)
    out = StringIO()
    call_command("sync_monitors", project.slug, stdout=out)
    assert "skipped, A refresh of Demo's monitors is already running." in out.getvalue()


def test_progress_is_reported_per_page_and_for_each_pause(big_project, big_sandbox):
    big_sandbox.state.add_fault(route="list_monitors", after=1, count=1, status=429, retry_after=0)
    messages = []
    PhareClient(big_project).list_monitors(on_progress=messages.append)
    assert messages[0] == "100 monitors read (1 pages)"
    assert any("pausing 1 s to stay under Phare's limit" in message for message in messages)
    assert messages[-1] == "250 monitors read (3 pages)"


def test_reads_stop_when_the_shared_budget_is_unavailable_but_creates_go_ahead(
    project, sandbox, alice, monkeypatch
):
    def broken_budget():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "budget", broken_budget)
    calls = len(sandbox.state.request_log)
    with pytest.raises(PhareUnavailable, match="rate budget"):
        services.monitor_sync(actor=None, project=project)
    assert len(sandbox.state.request_log) == calls
    attempt = services.incident_create(
        actor=alice,
        project=project,
        payload=IncidentPayload(impact="unknown", title="Redis down", exclude_from_downtime=False),
        submission_key=uuid.uuid4(),
    )
    assert attempt.state == "created"


def test_a_failed_refresh_is_not_retried_on_every_form_open(alice, alice_client, sandbox):
    project, _ = services.project_provision(name="Flaky", token=SANDBOX_TOKEN)
    make_member(alice, project)
    sandbox.state.add_fault(route="list_monitors", count=5, status=500)
    for _ in range(3):
        alice_client.get(project.get_absolute_url())
    assert list_calls(sandbox) == 1


def test_a_429_the_budget_cannot_record_pauses_the_sync_itself(
    big_project, big_sandbox, monkeypatch
):
    def cannot_record(self, key, seconds):
        raise ConnectionError("budget store down")

    monkeypatch.setattr(type(ratelimit.budget()), "block", cannot_record)
    big_sandbox.state.add_fault(route="list_monitors", after=1, count=1, status=429, retry_after=0)
    messages = []
    monitors = PhareClient(big_project).list_monitors(on_progress=messages.append)
    assert len(monitors) == 250 and list_calls(big_sandbox) == 4
    assert any("pausing 1 s" in message for message in messages)  # Retry-After 0, plus 1 s


def press_refresh(client, project):
    url = reverse("incidents:monitor_sync_start", kwargs={"slug": project.slug})
    return client.post(url, **HTMX)


def test_refresh_monitors_waits_out_the_projects_cooldown_whoever_presses(
    project, sandbox, client_for, project_admin
):
    calls = list_calls(sandbox)
    first = press_refresh(client_for("responder"), project)
    assert list_calls(sandbox) == calls + 1
    assert "refresh again" not in first.content.decode()
    again = press_refresh(client_for("project_admin"), project)  # dave, someone else
    html = again.content.decode()
    assert again.status_code == 200 and list_calls(sandbox) == calls + 1
    assert "you can refresh again" in html and "from now" in html
    assert "Refresh monitors</button>" in html  # the status line keeps its button
    project.refresh_from_db()
    assert not project.monitors_syncing  # the refused refresh let go of the lease


def test_one_person_cannot_spend_the_organizations_reads_project_after_project(
    project, sandbox, alice, client_for, project_admin
):
    second, _ = services.project_provision(name="Second", token=SANDBOX_TOKEN)
    make_member(alice, second)
    make_member(project_admin, second)
    PhareProject.objects.filter(pk__in=[project.pk, second.pk]).update(organization="acme")
    project.refresh_from_db()
    second.refresh_from_db()
    calls = list_calls(sandbox)
    press_refresh(client_for("responder"), project)
    refused = press_refresh(client_for("responder"), second)  # alice again, same organization
    assert "you can refresh again" in refused.content.decode()
    assert list_calls(sandbox) == calls + 1
    allowed = press_refresh(client_for("project_admin"), second)  # dave has his own cooldown
    assert "you can refresh again" not in allowed.content.decode()
    assert list_calls(sandbox) == calls + 2


def test_the_form_reload_without_javascript_has_the_same_cooldown(alice_client, project, sandbox):
    url = reverse("incidents:incident_form_reload", kwargs={"slug": project.slug})
    calls = list_calls(sandbox)
    for press in range(3):
        response = alice_client.post(url, {"title": "Kept", "refresh_monitors": "1"})
        assert response.status_code == 200
        html = response.content.decode()
        assert 'value="Kept"' in html
        # The refused presses say when a refresh is possible again, as with JavaScript.
        assert ("you can refresh again" in html) == (press > 0)
    assert list_calls(sandbox) == calls + 1


def test_refreshes_of_a_stale_copy_neither_wait_for_nor_start_a_cooldown(
    alice_client, project, sandbox, settings
):
    stale = timezone.now() - timedelta(seconds=settings.MONITOR_SYNC_TTL + 1)
    calls = list_calls(sandbox)
    PhareProject.objects.filter(pk=project.pk).update(monitors_synced_at=stale)
    alice_client.get(project.get_absolute_url())  # the form opens on a stale copy
    assert list_calls(sandbox) == calls + 1
    assert "refresh again" not in press_refresh(alice_client, project).content.decode()
    assert list_calls(sandbox) == calls + 2
    PhareProject.objects.filter(pk=project.pk).update(monitors_synced_at=stale)
    alice_client.get(project.get_absolute_url())  # cooling down, but the copy is stale
    assert list_calls(sandbox) == calls + 3


def test_the_cooldown_ends_and_zero_turns_it_off(alice_client, project, sandbox, settings):
    settings.MONITOR_REFRESH_COOLDOWN_SECONDS = 1
    calls = list_calls(sandbox)
    press_refresh(alice_client, project)
    assert "you can refresh again" in press_refresh(alice_client, project).content.decode()
    time.sleep(1.1)
    press_refresh(alice_client, project)
    assert list_calls(sandbox) == calls + 2
    settings.MONITOR_REFRESH_COOLDOWN_SECONDS = 0
    for _ in range(2):
        press_refresh(alice_client, project)
    assert list_calls(sandbox) == calls + 4
