"""The README's screenshots, taken from a live console against the sandbox, on a desktop
(1280×800) and a phone (390×844): the project page with the form filled, the created result,
the incident's page and the audit log. Runs only when asked: `make screenshots` (SCREENSHOTS=1);
the PNGs go to docs/screenshots/."""

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from incidents import services
from incidents.phare import IncidentPayload
from tests.browser.conftest import open_recorded_page
from tests.helpers import log_in, pick_monitor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("SCREENSHOTS"),
        reason="takes the README's screenshots only when asked (make screenshots)",
    ),
]

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Templates shown on the project page (when the console has them).
TEMPLATES = [
    {
        "name": "Checkout down",
        "impact": "major_outage",
        "title": "Checkout is down",
        "description": "Payments fail at the last step.",
        "monitors": [2, 4],
        "exclude_from_downtime": False,
    },
    {
        "name": "Search slow",
        "impact": "degraded_performance",
        "title": "Search is slow",
        "description": "",
        "monitors": [7],
        "exclude_from_downtime": True,
    },
]


@pytest.fixture
def screen(browser, request):
    context, page = open_recorded_page(browser)
    page.set_viewport_size(VIEWPORTS[request.param])
    yield request.param, page
    context.close()


def earlier_incidents(project, user) -> None:
    """Two incidents declared before, so the lists are not empty."""
    monitors = list(project.monitors.order_by("name").values_list("phare_id", flat=True))
    for title, impact, monitor in [
        ("Login emails arrive late", "degraded_performance", monitors[5]),
        ("Search returns no results", "partial_outage", monitors[9]),
    ]:
        services.incident_create(
            actor=user,
            project=project,
            payload=IncidentPayload(
                impact=impact, title=title, exclude_from_downtime=False, monitors=[monitor]
            ),
            submission_key=uuid.uuid4(),
        )


def choose_impact(page: Page, label: str) -> None:
    radio = page.get_by_role("radio", name=label)
    if radio.count():
        radio.check()
    else:
        page.get_by_label("Impact").select_option(label=label)


def shot(page: Page, device: str, name: str) -> None:
    """What the screen shows, without a focus ring."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=SCREENSHOTS / f"{device}-{name}.png",
        animations="disabled",
        caret="hide",
    )


@pytest.mark.parametrize("screen", list(VIEWPORTS), indirect=True)
def test_take_the_readme_screenshots(screen, live_server, alice, project, project_admin, sandbox):
    device, page = screen
    if template_create := getattr(services, "incident_template_create", None):
        for values in TEMPLATES:
            template_create(actor=project_admin, project=project, values=values)
    earlier_incidents(project, alice)
    first, second = project.monitors.order_by("name")[:2]

    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    expect(page.locator("#timezone-name")).to_have_text("Europe/Paris")
    choose_impact(page, "Major outage")
    page.get_by_label("Title").fill("Checkout returns 502")
    page.get_by_label("Description").fill("Payments fail for EU customers since the deploy.")
    pick_monitor(page, first.name, first.name)
    pick_monitor(page, second.name, second.name)
    # The form from its top (on a desktop with its heading and templates) down to what fits:
    # the whole page would weigh over 150 KB.
    above = 0 if device == "phone" else 150
    page.locator("#incident-panel").evaluate(
        "(panel, above) => window.scrollTo(0, panel.getBoundingClientRect().top + window.scrollY"
        " - above)",
        above,
    )
    shot(page, device, "1-form")

    page.get_by_role("button", name="Create incident").click()
    result = page.locator("#created-result")
    expect(result).to_contain_text("Incident DEMO-3 created")
    if device == "phone":
        result.evaluate("result => result.scrollIntoView()")
    else:
        page.evaluate("window.scrollTo(0, 0)")
    shot(page, device, "2-created")

    result.get_by_role("link", name="Open incident").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Checkout returns 502")
    shot(page, device, "3-incident")

    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit-results tbody tr").first).to_contain_text("Checkout returns 502")
    if device == "phone":  # past the filters, to the entries
        page.locator("#audit-results").evaluate("results => results.scrollIntoView()")
    shot(page, device, "4-audit")
    assert page.console_errors == []
