"""The whole create flow in a real browser, over real HTTP, against the Phare sandbox."""

import pytest
from playwright.sync_api import Page, expect

from incidents import selectors
from incidents.models import IncidentAttempt
from tests.helpers import log_in, pick_monitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_an_incident_then_see_phares_422_inline(
    page: Page, live_server, alice, project, sandbox
):
    first, second = project.monitors.order_by("phare_id")[:2]
    log_in(page, live_server, alice)
    with page.expect_response(lambda response: response.url.endswith(project.slug + "/")) as info:
        page.get_by_role("link", name=project.name).click()
    assert "unsafe" not in info.value.headers["content-security-policy"]
    expect(page.locator("#timezone-name")).to_have_text("Europe/Paris")

    page.get_by_role("radio", name="Major outage").check()
    page.get_by_label("Title").fill("Checkout returns 502")
    page.get_by_label("Description").fill("Payments fail for EU customers.")
    page.get_by_label("Incident at").fill("2026-07-01T14:30")
    pick_monitor(page, first.name[:6], first.name)
    pick_monitor(page, second.name, second.name)
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Create incident").click()

    result = page.locator("#created-result")
    expect(result).to_contain_text("Incident DEMO-1 created")
    expect(result).to_contain_text("Checkout returns 502")
    expect(result).to_contain_text("Major outage")
    expect(page.locator("#recent-incidents li").first).to_contain_text("DEMO-1")
    assert page.evaluate("window.notReloaded") is True  # swapped in place, no reload
    assert sandbox.state.create_requests == [
        {
            "impact": "major_outage",
            "title": "Checkout returns 502",
            "description": "Payments fail for EU customers.",
            "exclude_from_downtime": False,
            "incident_at": "2026-07-01T12:30:00Z",  # 14:30 in Paris, in summer
            "monitors": [first.phare_id, second.phare_id],
        }
    ]
    expect(page.get_by_label("Title")).to_have_value("")  # a fresh form for the next one

    # The sandbox forgets a monitor the console still lists: Phare's 422 comes back inline.
    sandbox.state.delete_monitor(second.phare_id)
    page.get_by_role("radio", name="Partial outage").check()
    page.get_by_label("Title").fill("Search is slow")
    page.get_by_label("Exclude from downtime").check()
    pick_monitor(page, second.name, second.name)
    page.get_by_role("button", name="Create incident").click()
    # DEMO-1 is ongoing on that monitor: the console asks before declaring it again.
    warning = page.locator("#form-banner")
    expect(warning).to_contain_text("This may already be declared.")
    expect(warning).to_contain_text("“Checkout returns 502” (DEMO-1), declared by alice")
    expect(page.get_by_label("Title")).to_have_value("Search is slow")
    assert len(sandbox.state.create_requests) == 1
    # Enter in a field does not confirm the duplicate: it asks again, and nothing is sent.
    with page.expect_response(lambda response: response.status == 409):
        page.get_by_label("Title").press("Enter")
    expect(page.locator("#form-banner")).to_contain_text("This may already be declared.")
    assert len(sandbox.state.create_requests) == 1
    page.get_by_role("button", name="Create anyway").click()

    monitors_field = page.locator("#field-monitors")
    expect(monitors_field.locator(".errorlist")).to_contain_text(
        f"Phare does not accept monitor “{second.name}”"
    )
    expect(page.locator("#field-title .errorlist")).to_have_count(0)
    expect(page.get_by_label("Title")).to_have_value("Search is slow")
    expect(page.get_by_role("radio", name="Partial outage")).to_be_checked()
    expect(page.get_by_label("Exclude from downtime")).to_be_checked()
    # The rejection refreshed the console's copy: the monitor Phare no longer has is gone.
    expect(page.locator("#monitor-selection li", has_text=second.name)).to_have_count(0)
    assert not project.monitors.filter(phare_id=second.phare_id).exists()
    expect(page.locator("#recent-incidents li").first).to_contain_text("DEMO-1")
    assert page.evaluate("window.notReloaded") is True
    assert IncidentAttempt.objects.filter(state="rejected").count() == 1
    assert page.console_errors == []


def test_after_a_create_the_form_is_blank_and_the_next_create_is_a_new_incident(
    page: Page, live_server, alice, project, sandbox
):
    first, second = project.monitors.order_by("name")[:2]
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    # A refused form first, so that the create has errors to clear.
    page.get_by_label("Title").fill("Login fails")
    page.get_by_label("Exclude from downtime").check()
    page.get_by_label("Incident at").fill("2026-07-01T14:30")
    pick_monitor(page, first.name, first.name)
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#field-impact .errorlist")).to_contain_text("Choose the impact.")
    expect(page.get_by_role("radio", name="Major outage")).to_have_attribute("aria-invalid", "true")
    first_key = page.locator("#id_submission_key").input_value()

    page.get_by_role("radio", name="Major outage").check()
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("Incident DEMO-1 created")
    expect(page.locator("#created-result")).to_be_focused()
    expect(page.locator("#incident-panel .errorlist")).to_have_count(0)
    expect(page.locator("#incident-panel .has-error")).to_have_count(0)
    major = page.get_by_role("radio", name="Major outage")
    expect(major).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=impact]:checked")).to_have_count(0)
    for label in ("Title", "Description", "Incident at", "Recovery at"):
        expect(page.get_by_label(label)).to_have_value("")
    expect(page.get_by_label("Exclude from downtime")).not_to_be_checked()
    expect(page.locator("#monitor-selection li")).to_have_count(0)
    expect(page.get_by_label("Monitors", exact=True)).to_have_value("")
    expect(page.locator("#monitor-options li", has_text=second.name)).to_be_visible()
    expect(page.locator("#timezone-name")).to_have_text("Europe/Paris")
    next_key = page.locator("#id_submission_key").input_value()
    assert next_key not in ("", first_key)
    # The search box still searches on the cleared form.
    page.get_by_label("Monitors", exact=True).fill(first.name)
    matches, _ = selectors.monitor_search(project, first.name, exclude_ids=[])
    expect(page.locator("#monitor-options li")).to_have_count(len(matches))

    page.get_by_role("radio", name="Degraded performance").check()
    page.get_by_label("Title").fill("Login slow")
    pick_monitor(page, second.name, second.name)
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("Incident DEMO-2 created")
    expect(page.locator("#recent-incidents li.recent-row")).to_have_count(2)
    titles = [body["title"] for body in sandbox.state.create_requests]
    assert titles == ["Login fails", "Login slow"]
    assert sandbox.state.create_requests[1]["monitors"] == [second.phare_id]
    keys = IncidentAttempt.objects.order_by("pk").values_list("submission_key", flat=True)
    assert [str(key) for key in keys] == [first_key, next_key]
    assert page.console_errors == []


def test_keyboard_picking_chip_removal_and_enter_creates_once(
    page: Page, live_server, alice, project, sandbox
):
    sandbox.state.latency_ms = 600  # long enough to click again while the request runs
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    page.get_by_role("radio", name="Degraded performance").check()
    page.get_by_label("Title").fill("Slow API")
    search = page.get_by_label("Monitors", exact=True)
    search.fill(project.monitors.order_by("name").first().name)
    search.press("ArrowDown")
    page.keyboard.press("Enter")  # picks the focused monitor, does not submit
    expect(page.locator("#monitor-selection li")).to_have_count(1)
    assert sandbox.state.create_requests == []

    # Removing a chip puts nothing in the payload for it.
    page.locator("#monitor-selection input").first.click()
    expect(page.locator("#monitor-selection li")).to_have_count(0)
    search.fill(project.monitors.order_by("name").last().name)
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#monitor-selection li")).to_have_count(1)
    picked = int(page.locator("#monitor-selection input").first.get_attribute("value"))

    # Enter in a text field creates, like the button, which is disabled while Phare answers.
    page.get_by_label("Title").press("Enter")
    button = page.get_by_role("button", name="Create incident")
    expect(page.locator("#create-progress")).to_be_visible()
    expect(button).to_be_disabled()
    expect(page.locator("#created-result")).to_contain_text("created")
    expect(button).to_be_enabled()
    assert sandbox.state.create_requests[0]["monitors"] == [picked]
    assert page.console_errors == []


def test_plain_post_without_javascript_still_creates(browser, live_server, alice, project, sandbox):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    page.get_by_role("radio", name="Maintenance").check()
    page.get_by_label("Title").fill("Planned database upgrade")
    monitor = project.monitors.order_by("-name").first()
    # Enter in the search box searches (the page comes back with what was typed); it never
    # declares the incident.
    page.get_by_label("Monitors", exact=True).fill(monitor.name)
    page.get_by_label("Monitors", exact=True).press("Enter")
    expect(page.locator("#monitor-options li").first).to_contain_text(monitor.name)
    expect(page.get_by_label("Title")).to_have_value("Planned database upgrade")
    assert sandbox.state.create_requests == []
    page.locator("#monitor-options li", has_text=monitor.name).get_by_role("checkbox").check()
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("Incident DEMO-1 created")
    assert "?created=" in page.url
    assert sandbox.state.create_requests[0]["monitors"] == [monitor.phare_id]
    context.close()


def test_select_all_matches_then_submit(page: Page, live_server, alice, project, sandbox):
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    page.get_by_role("radio", name="Partial outage").check()
    page.get_by_label("Title").fill("Everything behind the EU load balancer")
    page.get_by_label("Monitors", exact=True).fill("eu")
    expected = sorted(
        project.monitors.filter(name__icontains="eu").values_list("phare_id", flat=True)
        | project.monitors.filter(target__icontains="eu").values_list("phare_id", flat=True)
    )
    expect(page.locator("#monitor-match-count")).to_contain_text(f"{len(expected)} monitors")
    page.get_by_role("button", name=f"Select all {len(expected)}", exact=True).click()
    expect(page.locator("#monitor-selection li")).to_have_count(len(expected))
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("created")
    assert sorted(sandbox.state.create_requests[0]["monitors"]) == expected
    assert page.console_errors == []


def test_admin_pages_work_under_the_policy(page: Page, live_server, project, django_user_model):
    django_user_model.objects.create_superuser("root", password="root-password-1")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("root-password-1")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Phare projects").click()
    page.get_by_role("link", name=project.name).click()
    expect(page.get_by_role("heading", name="Change Phare project")).to_be_visible()
    page.get_by_role("link", name="Audit entries").click()
    assert page.console_errors == []
