"""Declaring from an incident template with the keyboard alone, with and without JavaScript:
from the project page, a press on the template's button fills the form and puts the focus on
Create incident, a second press creates it."""

import pytest
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import IncidentAttempt
from tests.helpers import INCIDENT_TEMPLATE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def templates(project, project_admin):
    services.incident_template_create(
        actor=project_admin, project=project, values=INCIDENT_TEMPLATE
    )
    services.incident_template_create(
        actor=project_admin,
        project=project,
        values=INCIDENT_TEMPLATE
        | {
            "name": "Search slow",
            "impact": "degraded_performance",
            "title": "Search is slow",
            "monitors": [7],
        },
    )


def test_two_key_presses_declare_an_incident_from_a_template(
    page: Page, live_server, alice, project, sandbox, templates
):
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    first = page.get_by_role("link", name="Checkout down")
    expect(first).to_be_focused()  # the page opens on the first template

    page.keyboard.press("Enter")  # 1: fill the form from the template
    create = page.get_by_role("button", name="Create incident")
    expect(create).to_be_focused()
    expect(page.get_by_label("Title")).to_have_value("Checkout is down")
    expect(page.get_by_label("Description")).to_have_value("Payments fail at the last step.")
    expect(page.get_by_role("radio", name="Major outage")).to_be_checked()
    expect(page.get_by_label("Exclude from downtime")).to_be_checked()
    chips = page.locator("#monitor-selection input[name=monitors]:checked")
    expect(chips).to_have_count(2)
    expect(page.locator("#incident-template-slot")).to_contain_text("Filled from template")

    page.keyboard.press("Enter")  # 2: create it
    expect(page.locator("#created-result")).to_contain_text("Checkout is down")
    assert sandbox.state.create_requests[0]["monitors"] == [2, 4]
    assert sandbox.state.create_requests[0]["exclude_from_downtime"] is True
    assert IncidentAttempt.objects.get().template_name == "Checkout down"
    # The next form starts blank: no template is recorded for it.
    expect(page.locator("input[name=incident_template]")).to_have_value("")
    expect(page.locator("#incident-template-slot")).not_to_contain_text("Filled from")

    # Another template: its button, then the same two presses.
    page.get_by_role("link", name="Search slow").focus()
    page.keyboard.press("Enter")
    expect(create).to_be_focused()
    expect(page.get_by_label("Title")).to_have_value("Search is slow")
    # Everything stays editable.
    page.get_by_label("Title").fill("Search is very slow")
    page.get_by_role("button", name="Create incident").press("Enter")
    expect(page.locator("#created-result")).to_contain_text("Search is very slow")
    assert sandbox.state.create_requests[1]["impact"] == "degraded_performance"
    assert page.console_errors == []


def test_template_button_and_create_without_javascript(
    browser, live_server, alice, project, sandbox, templates
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, live_server, alice)
        page.goto(f"{live_server.url}{project.get_absolute_url()}")
        page.get_by_role("link", name="Search slow").click()
        expect(page).to_have_url(
            f"{live_server.url}/projects/demo/incidents/new/?template=Search%20slow"
        )
        create = page.get_by_role("button", name="Create incident")
        expect(create).to_be_focused()
        expect(page.get_by_label("Title")).to_have_value("Search is slow")
        page.keyboard.press("Enter")
        expect(page.locator("#created-result")).to_contain_text("Search is slow")
        assert sandbox.state.create_requests[0]["monitors"] == [7]
        assert IncidentAttempt.objects.get().template_name == "Search slow"
    finally:
        context.close()


def test_a_prefill_link_with_bad_values_warns_and_sends_nothing(
    page: Page, live_server, alice, project, sandbox
):
    log_in(page, live_server, alice)
    page.goto(
        f"{live_server.url}/projects/{project.slug}/incidents/new"
        "?title=From+the+alert&impact=nonsense&monitors=www+homepage,ghost"
    )
    warnings = page.locator("#prefill-warnings")
    expect(warnings).to_contain_text("These values from the link were not used")
    expect(warnings).to_contain_text("impact “nonsense”")
    expect(warnings).to_contain_text("monitors “ghost”")
    expect(warnings).to_be_focused()
    expect(page.get_by_label("Title")).to_have_value("From the alert")
    expect(page.locator("#monitor-selection")).to_contain_text("www homepage")
    assert sandbox.state.create_requests == []
