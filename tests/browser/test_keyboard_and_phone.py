"""Declaring in seconds: the keyboard path and its shortcuts, where the focus goes after an
answer, the quick time choices, the picker's count, and every page on a phone."""

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect

from incidents import selectors, services
from incidents.models import AuditEntry
from incidents.phare import IncidentPayload
from tests.helpers import log_in, pick_monitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# The goal: from the project page to a created incident, this many presses at most
# besides the text typed.
MOST_PRESSES = 20


class Keys:
    """Presses keys one by one and counts them (typing text is not counted)."""

    def __init__(self, page: Page):
        self.page = page
        self.count = 0

    def press(self, key: str) -> None:
        self.count += 1
        self.page.keyboard.press(key)

    def tab_to(self, target: Locator, most: int = 12) -> None:
        """Tab until `target` has the focus."""
        for _ in range(most):
            self.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                return
        raise AssertionError(f"{target} not reached in {most} Tab presses")


def one_match_monitor(project):
    """A monitor whose full name matches nothing else."""
    for monitor in project.monitors.order_by("name"):
        if selectors.monitor_search(project, monitor.name)[1] == 1:
            return monitor
    raise AssertionError("every monitor name matches another")


def project_page(page: Page, live_server, user, project) -> None:
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    expect(page.locator("#timezone-name")).to_have_text("Europe/Paris")


def declare(project, user, title="Checkout returns 502", monitors=None):
    return services.incident_create(
        actor=user,
        project=project,
        payload=IncidentPayload(
            impact="partial_outage",
            title=title,
            exclude_from_downtime=False,
            monitors=monitors or [project.monitors.order_by("name").first().phare_id],
        ),
        submission_key=uuid.uuid4(),
    )


def test_the_skip_link_is_the_first_tab_stop_and_leads_to_the_form(
    page: Page, live_server, alice, project, sandbox
):
    project_page(page, live_server, alice, project)
    skip = page.get_by_role("link", name="Skip to the incident form")
    expect(skip).not_to_be_in_viewport()  # out of sight until it has the focus
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#incident-form') !== null")
    # Elsewhere it skips to the page's content.
    page.goto(f"{live_server.url}/audit/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert page.console_errors == []


def test_keyboard_only_from_the_project_page_to_a_created_incident(
    page: Page, live_server, alice, project, sandbox
):
    monitor = one_match_monitor(project)
    project_page(page, live_server, alice, project)
    keys = Keys(page)
    keys.press("Tab")
    expect(page.get_by_role("link", name="Skip to the incident form")).to_be_focused()
    keys.press("Enter")
    keys.tab_to(page.get_by_role("radio", name="Major outage"))
    keys.press("ArrowDown")  # arrows move within the impact's radios, and choose
    expect(page.get_by_role("radio", name="Partial outage")).to_be_checked()
    keys.tab_to(page.get_by_label("Title"))
    page.keyboard.type("Checkout returns 502")
    search = page.get_by_label("Monitors", exact=True)
    keys.tab_to(search)
    page.keyboard.type(monitor.name)
    expect(page.locator("#monitor-match-text")).to_have_text("1 monitor")
    keys.press("ArrowDown")
    expect(page.locator("#monitor-options li").first.get_by_role("checkbox")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#monitor-selection li", has_text=monitor.name)).to_be_visible()
    keys.press("Control+Enter")
    expect(page.locator("#created-result")).to_contain_text("Incident DEMO-1 created")
    expect(page.locator("#created-result")).to_be_focused()
    assert keys.count <= MOST_PRESSES, keys.count
    assert sandbox.state.create_requests[0]["impact"] == "partial_outage"
    assert sandbox.state.create_requests[0]["monitors"] == [monitor.phare_id]
    assert page.console_errors == []


def test_the_monitor_results_are_one_tab_stop(page: Page, live_server, alice, project, sandbox):
    project_page(page, live_server, alice, project)
    search = page.get_by_label("Monitors", exact=True)
    results = page.locator("#monitor-options input")
    expect(results).to_have_count(project.monitors.count())
    search.focus()
    page.keyboard.press("Tab")
    expect(page.locator("#select-all-matches")).to_be_focused()
    page.keyboard.press("Tab")
    expect(results.nth(0)).to_be_focused()  # one stop for the whole list
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(results.nth(2)).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#monitor-options') === null")
    page.keyboard.press("Shift+Tab")
    expect(results.nth(2)).to_be_focused()  # back where it was in the list
    # A picked monitor is a chip, a Tab stop of its own: Shift+Tab from the search reaches it.
    first = project.monitors.order_by("name").first()
    pick_monitor(page, first.name, first.name)
    search.focus()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#monitor-selection input").first).to_be_focused()


def test_ctrl_enter_creates_from_the_description_and_never_confirms_a_duplicate(
    page: Page, live_server, alice, project, sandbox
):
    monitor = project.monitors.order_by("name").first()
    project_page(page, live_server, alice, project)
    page.get_by_role("radio", name="Major outage").check()
    page.get_by_label("Title").fill("Payments fail")
    pick_monitor(page, monitor.name, monitor.name)
    description = page.get_by_label("Description")
    description.fill("First line")
    description.press("Enter")  # a new line in the description, nothing sent
    description.press_sequentially("second line")
    assert sandbox.state.create_requests == []
    description.press("Control+Enter")
    expect(page.locator("#created-result")).to_contain_text("Incident DEMO-1 created")
    assert sandbox.state.create_requests[0]["description"] == "First line\nsecond line"

    # The same monitor again: the console asks, and Ctrl+Enter or ⌘+Enter only asks again.
    page.get_by_role("radio", name="Major outage").check()
    page.get_by_label("Title").fill("Payments still fail")
    pick_monitor(page, monitor.name, monitor.name)
    with page.expect_response(lambda response: response.status == 409):
        page.get_by_label("Description").press("Control+Enter")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("This may already be declared")
    with page.expect_response(lambda response: response.status == 409):
        page.get_by_label("Title").press("Meta+Enter")
    expect(page.get_by_role("button", name="Create anyway")).to_be_visible()
    assert len(sandbox.state.create_requests) == 1
    page.get_by_role("button", name="Create anyway").click()
    expect(page.locator("#created-result")).to_contain_text("Incident DEMO-2 created")
    assert page.console_errors == []


def test_slash_searches_monitors_and_question_mark_lists_the_shortcuts(
    page: Page, live_server, alice, project, sandbox
):
    project_page(page, live_server, alice, project)
    title = page.get_by_label("Title")
    title.press_sequentially("api/v2 down?")  # typed as text in a field
    expect(title).to_have_value("api/v2 down?")
    expect(page.get_by_role("dialog")).to_be_hidden()

    radio = page.get_by_role("radio", name="Unknown")
    radio.focus()
    page.keyboard.press("/")
    search = page.get_by_label("Monitors", exact=True)
    expect(search).to_be_focused()
    expect(search).to_have_value("")

    radio.focus()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Create incident, from anywhere in the form")
    page.keyboard.press("/")  # not a shortcut while the list is open
    expect(search).not_to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(radio).to_be_focused()  # back where it was

    button = page.get_by_role("button", name="Keyboard shortcuts (?)")
    button.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    assert page.console_errors == []


def test_the_focus_goes_to_the_error_summary_after_each_refusal_and_to_the_result_after_a_create(
    page: Page, live_server, alice, project, sandbox
):
    first, second = project.monitors.order_by("name")[:2]
    project_page(page, live_server, alice, project)
    # The form's own checks (422).
    page.get_by_role("button", name="Create incident").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary.get_by_role("heading")).to_have_text("2 fields need attention")
    summary.get_by_role("link", name="Title: Give the incident a title.").click()
    expect(page.get_by_label("Title")).to_be_focused()
    page.get_by_label("Title").fill("Search is slow")
    summary.get_by_role("link", name="Impact: Choose the impact.").click()
    expect(page.get_by_role("radio", name="Major outage")).to_be_focused()

    # Phare's own refusal (422): a monitor it no longer has.
    page.get_by_role("radio", name="Degraded performance").check()
    pick_monitor(page, second.name, second.name)
    sandbox.state.delete_monitor(second.phare_id)
    page.get_by_role("button", name="Create incident").click()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("1 field needs attention")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#monitor-search")
    expect(summary).to_contain_text(f"Phare does not accept monitor “{second.name}”")

    # Phare down (a banner for a 5xx): the form is kept and the summary says what happened.
    chips = page.locator("#monitor-selection input")
    while chips.count():
        chips.first.click()
    pick_monitor(page, first.name, first.name)
    sandbox.state.add_fault(route="create_incident", status=503)
    page.get_by_role("button", name="Create incident").click()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Something needs your attention")
    expect(page.get_by_label("Title")).to_have_value("Search is slow")

    # Pressed again, it is created: the focus is on the result, the summary gone.
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("created")
    expect(page.locator("#created-result")).to_be_focused()
    expect(page.locator("#error-summary")).to_have_count(0)

    # Already declared (409): the summary links to the warning and its Create anyway.
    page.get_by_role("radio", name="Degraded performance").check()
    page.get_by_label("Title").fill("Search is slow again")
    pick_monitor(page, first.name, first.name)
    page.get_by_role("button", name="Create incident").click()
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="ongoing incident").click()
    expect(page.locator("#form-banner")).to_be_focused()
    expect(page.locator("#form-banner")).to_contain_text("Create anyway")
    # Chromium logs the 5xx answer; nothing else.
    assert [text for text in page.console_errors if "status of 50" not in text] == []


def test_date_fields_stay_aligned_when_one_shows_an_error(
    page: Page, live_server, alice, project, sandbox
):
    project_page(page, live_server, alice, project)
    page.get_by_role("radio", name="Major outage").check()
    page.get_by_label("Title").fill("Slow")
    page.get_by_label("Incident at").fill("2026-07-01T14:30")
    page.get_by_label("Recovery at").fill("2026-07-01T13:00")
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#field-recovery_at .errorlist")).to_contain_text("Recovery cannot be")
    started = page.get_by_label("Incident at").bounding_box()
    recovered = page.get_by_label("Recovery at").bounding_box()
    assert started and recovered and started["y"] == recovered["y"]


def test_quick_choices_fill_the_start_in_the_browsers_zone(
    page: Page, live_server, alice, project, sandbox
):
    project_page(page, live_server, alice, project)
    started = page.get_by_label("Incident at")
    page.get_by_role("button", name="15 min ago").click()
    paris = ZoneInfo("Europe/Paris")
    expected = {
        (datetime.now(paris) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")
        for minutes in (14, 15, 16)  # the minute may turn meanwhile
    }
    assert started.input_value() in expected
    page.get_by_role("radio", name="Unknown").check()
    page.get_by_label("Title").fill("Odd errors")
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("created")
    sent = datetime.fromisoformat(sandbox.state.create_requests[0]["incident_at"])
    ago = datetime.now(ZoneInfo("UTC")) - sent
    assert timedelta(minutes=14) <= ago <= timedelta(minutes=17)
    # The result and "Recently created" say when, in the viewer's zone, UTC on hover.
    shown = page.locator("#created-result time")
    expect(shown).to_contain_text(sent.astimezone(paris).strftime("%H:%M "))
    expect(shown).to_have_attribute("title", sent.strftime("%Y-%m-%d %H:%M UTC"))
    recent = page.locator("#recent-incidents li.recent-row time").first
    zone_name = datetime.now(paris).tzname()
    expect(recent).to_have_text(re.compile(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d {zone_name}$"))
    expect(recent).to_have_attribute("title", re.compile(r" UTC$"))
    assert page.console_errors == []


def test_the_picker_says_when_every_match_is_picked(
    page: Page, live_server, alice, project, sandbox
):
    project_page(page, live_server, alice, project)
    search = page.get_by_label("Monitors", exact=True)
    count = page.locator("#monitor-match-count")
    matches = selectors.monitor_search(project, "checkout")[0]
    assert len(matches) >= 2
    search.fill("checkout")
    expect(count).to_contain_text(f"{len(matches)} monitors")
    page.get_by_role("button", name=f"Select all {len(matches)}", exact=True).click()
    expect(count).to_have_text(f"All {len(matches)} matches picked.")
    expect(page.locator("#select-all-matches")).to_have_count(0)

    # As the server says it when the same search comes back (Escape, then typing again).
    search.press("Escape")
    expect(count).not_to_contain_text("matches picked")
    search.fill("checkout")
    expect(count).to_have_text(f"All {len(matches)} matches picked.")
    expect(page.locator("#select-all-matches")).to_have_count(0)

    # Dropping a chip makes that monitor a result again.
    page.locator("#monitor-selection input").first.click()  # drops the chip
    expect(count).to_have_text("1 monitor")
    expect(page.locator("#monitor-options li")).to_have_count(1)

    # Picking by keyboard, one by one, says so too.
    search.fill("checkout")
    expect(page.locator("#monitor-options li")).to_have_count(1)
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(count).to_have_text(f"All {len(matches)} matches picked.")
    assert page.console_errors == []


def test_every_page_fits_a_phone_without_scrolling_sideways(
    browser, live_server, alice, project, sandbox
):
    long_token = "x" * 120
    attempt = declare(project, alice, title=f"Checkout returns 502 for {long_token}")
    entry = AuditEntry.objects.filter(attempt=attempt).order_by("id").last()
    base = live_server.url
    context = browser.new_context(viewport=PHONE, timezone_id="Europe/Paris")
    page = context.new_page()

    def fits(name: str) -> None:
        expect(page.locator("main")).to_be_visible()
        sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert sizes[0] <= sizes[1], (name, sizes)

    try:
        page.goto(f"{base}/")
        fits("log in")
        log_in(page, live_server, alice)
        fits("home")
        pages = {
            "project": f"{base}{project.get_absolute_url()}",
            "incident list": f"{base}/projects/{project.slug}/incidents/",
            "incident": f"{base}/projects/{project.slug}/incidents/{attempt.phare_incident_id}/",
            "audit log": f"{base}/audit/",
            "audit entry": f"{base}/audit/{entry.pk}/",
            "not found": f"{base}/projects/no-such-project/",
        }
        for name, url in pages.items():
            page.goto(url)
            fits(name)
        page.goto(pages["audit log"])
        # The log is a list of cards, each cell named by its column.
        row = page.locator(".audit-table tbody tr").first
        assert row.evaluate("row => getComputedStyle(row).display") == "block"
        label = row.locator("td[data-label=Outcome]")
        assert label.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Outcome: "'

        page.goto(pages["project"])
        page.get_by_role("button", name="Create incident").click()
        expect(page.locator("#error-summary")).to_be_focused()
        fits("project, form with errors")
        # The Create button stays at the bottom of the screen while the form scrolls.
        page.get_by_label("Title").focus()
        create = page.get_by_role("button", name="Create incident")
        expect(create).to_be_in_viewport()
        box = create.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"]
        assert box["y"] > PHONE["height"] / 2
    finally:
        context.close()
