"""axe-core on every page people use, at desktop and phone width: no violation of impact
serious or critical, on the console's own pages and on the admin pages an admin opens."""

import re
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import AuditEntry
from incidents.phare import IncidentPayload
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
BLOCKING = ("serious", "critical")
AXE = Axe()


def violations(page: Page) -> list[str]:
    """axe's blocking violations on the page as it is now, one line each (rule, impact, where)."""
    results = AXE.run(page)
    return [
        f"{found['id']} ({found['impact']}): {found['help']} at "
        + ", ".join(str(node["target"]) for node in found["nodes"][:3])
        for found in results.response["violations"]
        if found["impact"] in BLOCKING
    ]


@pytest.fixture
def declared(alice, project, sandbox):
    attempt = services.incident_create(
        actor=alice,
        project=project,
        payload=IncidentPayload(
            impact="partial_outage",
            title="Checkout returns 502",
            exclude_from_downtime=False,
            monitors=[project.monitors.order_by("name").first().phare_id],
        ),
        submission_key=uuid.uuid4(),
    )
    return attempt


def console_pages(live_server, project, attempt) -> dict[str, str]:
    entry = AuditEntry.objects.filter(attempt=attempt).order_by("id").last()
    base = live_server.url
    return {
        "home": f"{base}/",
        "project": f"{base}{project.get_absolute_url()}",
        "incident list": f"{base}/projects/{project.slug}/incidents/",
        "incident": f"{base}/projects/{project.slug}/incidents/{attempt.phare_incident_id}/",
        "audit log": f"{base}/audit/",
        "audit entry": f"{base}/audit/{entry.pk}/",
        "not found": f"{base}/projects/no-such-project/",
        "incident templates": f"{base}/projects/{project.slug}/templates/",
        "new incident template": f"{base}/projects/{project.slug}/templates/new/",
        "prefill link with a warning": (
            f"{base}/projects/{project.slug}/incidents/new/?title=From+an+alert&monitors=nope"
        ),
    }


@pytest.mark.parametrize("width", list(WIDTHS))
def test_console_pages_have_no_serious_violations(
    browser, live_server, project_admin, project, declared, width
):
    """As a project admin, who sees every part a responder sees and the admins' own."""
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        found = {"log in": violations(page)}
        log_in(page, live_server, project_admin)
        for name, url in console_pages(live_server, project, declared).items():
            page.goto(url)
            expect(page.locator("main")).to_be_visible()
            found[name] = violations(page)
        # The form as it is after Phare or the form refused it: errors shown inline.
        page.goto(f"{live_server.url}{project.get_absolute_url()}")
        page.get_by_role("button", name="Create incident").click()
        expect(page.locator("#incident-panel .errorlist").first).to_be_visible()
        found["project, form with errors"] = violations(page)
        page.get_by_label("Title").fill("Checkout returns 502")
        page.get_by_role("radio", name="Major outage").check()
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#incident-preview")).to_be_visible()
        found["project, preview"] = violations(page)
        page.get_by_role("button", name="Keyboard shortcuts (?)").click()
        expect(page.locator("#shortcuts-dialog")).to_be_visible()
        found["project, keyboard shortcuts"] = violations(page)
    finally:
        context.close()
    failures = {name: lines for name, lines in found.items() if lines}
    assert not failures, "\n".join(
        f"{name}: {line}" for name, lines in failures.items() for line in lines
    )


@pytest.mark.parametrize("width", list(WIDTHS))
def test_admin_pages_people_use_have_no_serious_violations(
    browser, live_server, superuser, project, declared, width
):
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    base = f"{live_server.url}/admin/"
    entry = AuditEntry.objects.order_by("id").first()
    pages = {
        "index": base,
        "projects": f"{base}incidents/phareproject/",
        "project": f"{base}incidents/phareproject/{project.pk}/change/",
        "attempts": f"{base}incidents/incidentattempt/",
        "audit entries": f"{base}incidents/auditentry/",
        "audit entry": f"{base}incidents/auditentry/{entry.pk}/change/",
        "users": f"{base}auth/user/",
    }
    try:
        log_in(page, live_server, superuser)
        found = {}
        for name, url in pages.items():
            response = page.goto(url)
            assert response is not None and response.status == 200, (name, url)
            found[name] = violations(page)
    finally:
        context.close()
    failures = {name: lines for name, lines in found.items() if lines}
    assert not failures, "\n".join(
        f"{name}: {line}" for name, lines in failures.items() for line in lines
    )


def luminance(css_color: str) -> float:
    """Relative luminance (WCAG 2) of an "rgb(r, g, b)" or "rgba(…)" computed colour."""
    channels = [int(part) / 255 for part in re.findall(r"\d+", css_color)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_focus_ring_and_input_borders_stand_out_at_3_to_1(
    page: Page, live_server, alice, project, sandbox
):
    """WCAG 1.4.11 (non-text contrast), which axe does not check: the keyboard focus ring on a
    white card and on the dark top bar, and the input borders on white."""
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    title = page.get_by_label("Title")
    white = "rgb(255, 255, 255)"
    assert contrast(title.evaluate("e => getComputedStyle(e).borderTopColor"), white) >= 3
    title.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible applies
    expect(title).to_be_focused()
    ring = title.evaluate("e => getComputedStyle(e).outlineColor")
    assert contrast(ring, white) >= 3, ring
    brand = page.locator(".topbar a.brand")
    brand.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    expect(brand).to_be_focused()
    bar = page.locator(".topbar").evaluate("e => getComputedStyle(e).backgroundColor")
    ring = brand.evaluate("e => getComputedStyle(e).outlineColor")
    assert contrast(ring, bar) >= 3, (ring, bar)
