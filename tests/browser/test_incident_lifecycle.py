"""One incident's life in a real browser, over real HTTP, against the Phare sandbox: declare it,
post an update, edit it, mark it recovered; what another person with the page open sees; and
a change made in Phare itself."""

import uuid
from datetime import datetime
from unittest.mock import ANY
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import AuditEntry, PhareIncident
from incidents.phare import IncidentPayload
from tests.helpers import log_in, pick_monitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PARIS = ZoneInfo("Europe/Paris")  # the browser contexts' zone (conftest)
# What the open pages wait for, at most: a few polling rounds on a busy machine.
POLLED = 15_000


def shown_time(phare_timestamp: str) -> tuple[str, str]:
    """A time Phare sent, as the page writes it: the <time> element's datetime and its text."""
    moment = datetime.fromisoformat(phare_timestamp)
    local = moment.astimezone(PARIS)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), local.strftime("%Y-%m-%d %H:%M ") + local.tzname()


def declare(*, actor, project, title: str, monitors) -> PhareIncident:
    """An incident declared through the console (the create flow has its own browser tests)."""
    attempt = services.incident_create(
        actor=actor,
        project=project,
        payload=IncidentPayload(
            impact="partial_outage",
            title=title,
            exclude_from_downtime=False,
            monitors=[monitor.phare_id for monitor in monitors],
        ),
        submission_key=uuid.uuid4(),
    )
    return PhareIncident.objects.get(project=project, phare_id=attempt.phare_incident_id)


def test_declare_post_an_update_edit_and_recover_without_a_reload(
    page: Page, live_server, alice, project, sandbox, settings
):
    # The page must show each change by itself, not at the next poll.
    settings.INCIDENT_POLL_SECONDS = 600
    monitor = project.monitors.order_by("name").first()
    title = "Checkout returns 502"
    log_in(page, live_server, alice)
    page.get_by_role("link", name=project.name).click()
    page.get_by_role("radio", name="Partial outage").check()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Incident at").fill("2026-07-01T14:30")
    pick_monitor(page, monitor.name, monitor.name)
    page.get_by_role("button", name="Create incident").click()
    result = page.locator("#created-result")
    expect(result).to_contain_text("Incident DEMO-1 created")
    result.get_by_role("link", name="Open incident").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"DEMO-1 {title}")
    expect(page.locator("#incident-impact")).to_have_text("Partial outage")
    expect(page.locator("#incident-status")).to_have_text("ongoing")
    expect(page.locator("#incident-recovery")).to_have_text("not yet")
    page.evaluate("window.notReloaded = true")

    # Post an update: it tops the timeline at once.
    message = "The EU load balancer drops TLS handshakes; rolling back."
    update_panel = page.locator("#incident-update-panel")
    update_panel.get_by_label("State").select_option(label="Identified")
    update_panel.get_by_label("Message").fill(message)
    update_panel.get_by_role("button", name="Post update").click()
    expect(page.get_by_text("Update posted.")).to_be_visible()
    newest = page.locator("#incident-timeline li").first
    expect(newest).to_contain_text("Identified")
    expect(newest).to_contain_text(message)
    expect(newest).to_contain_text("alice")
    expect(page.locator("#incident-state")).to_have_text("identified")
    expect(page.locator("#incident-update-panel").get_by_label("Message")).to_have_value("")

    # Edit the impact.
    edit_panel = page.locator("#incident-edit-panel")
    edit_panel.get_by_role("heading", name="Edit").click()
    edit_panel.get_by_role("radio", name="Major outage").check()
    edit_panel.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved.")).to_be_visible()
    expect(page.locator("#incident-impact")).to_have_text("Major outage")
    expect(page.locator("#changed-outside")).to_have_count(0)  # our own change

    # Mark it recovered: the status and the recovery time are Phare's, read back.
    recover_panel = page.locator("#incident-recover-panel")
    recover_panel.get_by_role("heading", name="Mark recovered…").click()
    recover_panel.get_by_role("button", name=f"Confirm recovery of “{title}”").click()
    expect(page.locator("#incident-status")).to_have_text("recovered")
    expect(page.get_by_text("Marked recovered.")).to_be_visible()
    recovered = sandbox.state.get_incident(1)
    assert recovered["status"] == "recovered"
    stamp, text = shown_time(recovered["recovery_at"])
    expect(page.locator("#incident-recovery time")).to_have_attribute("datetime", stamp)
    expect(page.locator("#incident-recovery")).to_have_text(text)
    expect(page.locator("#changed-outside")).to_have_count(0)

    assert page.evaluate("window.notReloaded") is True
    writes = sandbox.state.summary()["writes"]
    assert [(write["route"], write["id"], write["body"]) for write in writes] == [
        (
            "create_incident",
            None,
            {
                "impact": "partial_outage",
                "title": title,
                "exclude_from_downtime": False,
                "incident_at": "2026-07-01T12:30:00Z",
                "monitors": [monitor.phare_id],
            },
        ),
        ("create_incident_update", 1, {"state": "identified", "content": message}),
        ("edit_incident", 1, {"impact": "major_outage"}),
        ("recover_incident", 1, None),
    ]
    assert page.console_errors == []


def test_another_person_with_the_page_open_sees_each_change(
    page: Page, other_page: Page, live_server, alice, viewer, project, sandbox, settings
):
    settings.INCIDENT_POLL_SECONDS = 1
    settings.INCIDENT_DETAIL_REFRESH_SECONDS = 0
    title = "Search is slow"
    incident = declare(
        actor=alice, project=project, title=title, monitors=project.monitors.all()[:1]
    )
    watcher = other_page
    log_in(page, live_server, alice)
    log_in(watcher, live_server, viewer)
    url = f"{live_server.url}{incident.get_absolute_url()}"
    page.goto(url)
    watcher.goto(url)
    expect(watcher.locator("#incident-impact")).to_have_text("Partial outage")
    expect(watcher.locator("#incident-update-panel")).to_have_count(0)  # carol only watches
    watcher.evaluate("window.notReloaded = true")

    message = "Index rebuild running; searches fall back to the replica."
    page.locator("#incident-update-panel").get_by_label("State").select_option(label="Monitoring")
    page.locator("#incident-update-panel").get_by_label("Message").fill(message)
    page.get_by_role("button", name="Post update").click()
    newest = watcher.locator("#incident-timeline li").first
    expect(newest).to_contain_text(message, timeout=POLLED)
    expect(newest).to_contain_text("Monitoring")
    expect(watcher.locator("#incident-state")).to_have_text("monitoring", timeout=POLLED)

    page.locator("#incident-edit-panel").get_by_role("heading", name="Edit").click()
    page.locator("#incident-edit-panel").get_by_role("radio", name="Major outage").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#incident-edit-panel")).to_contain_text("Changes saved.")
    expect(watcher.locator("#incident-impact")).to_have_text("Major outage", timeout=POLLED)

    page.locator("#incident-recover-panel").get_by_role("heading", name="Mark recovered…").click()
    page.get_by_role("button", name=f"Confirm recovery of “{title}”").click()
    expect(page.locator("#incident-recover-panel")).to_contain_text("Marked recovered.")
    expect(watcher.locator("#incident-status")).to_have_text("recovered", timeout=POLLED)
    stamp, text = shown_time(sandbox.state.get_incident(incident.phare_id)["recovery_at"])
    expect(watcher.locator("#incident-recovery time")).to_have_attribute("datetime", stamp)
    expect(watcher.locator("#incident-recovery")).to_have_text(text)

    # Changes made through the console are not changes "in Phare", on either page.
    expect(watcher.locator("#changed-outside")).to_have_count(0)
    expect(page.locator("#changed-outside")).to_have_count(0)
    assert watcher.evaluate("window.notReloaded") is True
    writes = sandbox.state.summary()["writes"]
    assert [(write["route"], write["body"]) for write in writes] == [
        ("create_incident", ANY),
        ("create_incident_update", {"state": "monitoring", "content": message}),
        # Phare's start time has seconds, the form minutes: left as shown, it is not sent.
        ("edit_incident", {"impact": "major_outage"}),
        ("recover_incident", None),
    ]
    assert page.console_errors == []
    assert watcher.console_errors == []


def test_a_change_made_in_phare_shows_on_the_open_page(
    page: Page, live_server, alice, project, sandbox, settings
):
    settings.INCIDENT_POLL_SECONDS = 1
    settings.INCIDENT_DETAIL_REFRESH_SECONDS = 0
    incident = declare(
        actor=alice, project=project, title="Login fails", monitors=project.monitors.all()[:1]
    )
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{incident.get_absolute_url()}")
    expect(page.locator("#incident-impact")).to_have_text("Partial outage")
    page.evaluate("window.notReloaded = true")

    sandbox.state.edit_incident(incident.phare_id, {"impact": "major_outage"}, control=True)
    changed = page.locator("#changed-outside")
    expect(changed).to_contain_text("Changed in Phare", timeout=POLLED)
    expect(changed).to_contain_text("impact partial outage → major outage")
    expect(page.locator("#incident-impact")).to_have_text("Major outage")
    assert page.evaluate("window.notReloaded") is True
    outside = AuditEntry.objects.get(action=AuditEntry.Action.INCIDENT_CHANGED_OUTSIDE)
    assert outside.payload == {
        "before": {"impact": "partial_outage"},
        "after": {"impact": "major_outage"},
    }
    assert [write["route"] for write in sandbox.state.summary()["writes"]] == ["create_incident"]
    assert page.console_errors == []


@pytest.mark.parametrize("write", ["update", "edit", "recover"])
def test_a_watcher_refreshing_while_phare_is_slow_does_not_call_our_write_a_change_in_phare(
    write, page: Page, other_page: Page, live_server, alice, viewer, project, sandbox, settings
):
    settings.INCIDENT_POLL_SECONDS = 1
    settings.INCIDENT_DETAIL_REFRESH_SECONDS = 0
    title = "Login fails"
    incident = declare(actor=alice, project=project, title=title, monitors=[])
    watcher = other_page
    log_in(page, live_server, alice)
    log_in(watcher, live_server, viewer)
    url = f"{live_server.url}{incident.get_absolute_url()}"
    page.goto(url)
    watcher.goto(url)
    expect(watcher.locator("#incident-impact")).to_have_text("Partial outage")
    # Every call takes long enough for the watcher's polls to read Phare while the write is
    # on its way, and before its answer is in the console's copy.
    sandbox.state.latency_ms = 1200
    if write == "update":
        page.locator("#incident-update-panel").get_by_label("Message").fill("Sessions expire.")
        page.get_by_role("button", name="Post update").click()
        expect(page.locator("#incident-update-panel")).to_contain_text(
            "Update posted.", timeout=POLLED
        )
        expect(watcher.locator("#incident-timeline li").first).to_contain_text(
            "Sessions expire.", timeout=POLLED
        )
    elif write == "edit":
        page.locator("#incident-edit-panel").get_by_role("heading", name="Edit").click()
        page.locator("#incident-edit-panel").get_by_role("radio", name="Major outage").check()
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#incident-edit-panel")).to_contain_text(
            "Changes saved.", timeout=POLLED
        )
        expect(watcher.locator("#incident-impact")).to_have_text("Major outage", timeout=POLLED)
    else:
        page.locator("#incident-recover-panel").get_by_role(
            "heading", name="Mark recovered…"
        ).click()
        page.get_by_role("button", name=f"Confirm recovery of “{title}”").click()
        expect(page.locator("#incident-recover-panel")).to_contain_text(
            "Marked recovered.", timeout=POLLED
        )
        expect(watcher.locator("#incident-status")).to_have_text("recovered", timeout=POLLED)
    expect(watcher.locator("#changed-outside")).to_have_count(0)
    expect(page.locator("#changed-outside")).to_have_count(0)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.INCIDENT_CHANGED_OUTSIDE)
    assert page.console_errors == []
    assert watcher.console_errors == []
