"""Preview and Copy link on the create form, in a real browser against the Phare sandbox."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import log_in, pick_monitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def choose_impact(page: Page, value: str) -> None:
    """The impact, whether the form shows it as a list or as radios."""
    listed = page.locator("select[name=impact]")
    if listed.count():
        listed.select_option(value)
    else:
        page.locator(f"input[name=impact][value={value}]").check()


def open_project(page: Page, live_server, alice, project) -> None:
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    expect(page.locator("#timezone-name")).to_have_text("Europe/Paris")


def test_preview_shows_the_request_then_copy_link_copies_the_form(
    page: Page, live_server, alice, project, sandbox
):
    first, second = project.monitors.order_by("phare_id")[:2]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    open_project(page, live_server, alice, project)
    choose_impact(page, "major_outage")
    page.get_by_label("Title", exact=True).fill("Checkout returns 502 & more")
    page.get_by_label("Description", exact=True).fill("It's down for EU customers.")
    page.get_by_label("Incident at", exact=True).fill("2026-07-01T14:30")
    pick_monitor(page, first.name[:6], first.name)
    pick_monitor(page, second.name, second.name)

    page.get_by_role("button", name="Preview", exact=True).click()

    preview = page.locator("#incident-preview")
    expect(preview).to_be_focused()
    expect(page.locator("#preview-json")).to_contain_text('"title": "Checkout returns 502 & more"')
    expect(page.locator("#preview-json")).to_contain_text('"incident_at": "2026-07-01T12:30:00Z"')
    curl = page.locator("#preview-curl")
    expect(curl).to_contain_text(f"curl -X POST {sandbox.url}/uptime/incidents")
    expect(curl).to_contain_text('-H "Authorization: Bearer $PHARE_TOKEN"')
    expect(curl).to_contain_text('--data-raw \'{"impact":"major_outage"')
    body = json.loads(page.locator("#preview-json").text_content() or "")
    assert body["monitors"] == [first.phare_id, second.phare_id]
    assert sandbox.state.create_requests == []
    # Everything typed is still in the form.
    expect(page.get_by_label("Title", exact=True)).to_have_value("Checkout returns 502 & more")
    expect(page.locator("#monitor-selection li", has_text=second.name)).to_be_visible()

    preview.get_by_role("button", name="Copy", exact=True).first.click()
    expect(page.locator("#preview-copy-status")).to_have_text("JSON body copied")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == body

    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-link-status")).to_have_text("Link copied")
    link = urlsplit(page.evaluate("navigator.clipboard.readText()"))
    assert f"{link.scheme}://{link.netloc}" == live_server.url
    assert link.path == f"/projects/{project.slug}/incidents/new/"
    assert parse_qs(link.query) == {
        "impact": ["major_outage"],
        "title": ["Checkout returns 502 & more"],
        "description": ["It's down for EU customers."],
        "monitors": [f"{first.phare_id},{second.phare_id}"],
    }
    expect(page.locator("#prefill-link")).to_be_hidden()

    # Create after the preview sends exactly what it showed, once, and the preview goes.
    page.get_by_role("button", name="Create incident").click()
    expect(page.locator("#created-result")).to_contain_text("Checkout returns 502 & more")
    assert sandbox.state.create_requests == [body]
    expect(page.locator("#incident-preview")).to_have_count(0)
    assert page.console_errors == []


def test_preview_of_an_invalid_form_shows_the_errors_and_sends_nothing(
    page: Page, live_server, alice, project, sandbox
):
    open_project(page, live_server, alice, project)
    page.get_by_label("Description", exact=True).fill("No title yet")
    with page.expect_response(lambda response: response.status == 422):
        page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#field-title .errorlist")).to_contain_text("Give the incident a title.")
    expect(page.locator("#incident-preview")).to_have_count(0)
    expect(page.get_by_label("Description", exact=True)).to_have_value("No title yet")
    assert sandbox.state.create_requests == []


def test_without_a_clipboard_the_link_is_shown_selected(
    page: Page, live_server, alice, project, sandbox
):
    # As on plain HTTP away from localhost: no clipboard API.
    page.add_init_script(
        "Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})"
    )
    monitor = project.monitors.order_by("phare_id").first()
    open_project(page, live_server, alice, project)
    page.get_by_label("Title", exact=True).fill("Search is slow")
    page.get_by_label("Exclude from downtime").check()
    pick_monitor(page, monitor.name, monitor.name)

    page.get_by_role("button", name="Copy link").click()

    field = page.locator("#prefill-link")
    expect(field).to_be_visible()
    expect(field).to_be_focused()
    expect(page.locator("#copy-link-status")).to_have_text("Copy the link from the field below.")
    link = urlsplit(field.input_value())
    assert parse_qs(link.query) == {
        "title": ["Search is slow"],
        "monitors": [str(monitor.phare_id)],
        "exclude_from_downtime": ["1"],
    }
    selected = page.evaluate(
        "(() => { const f = document.getElementById('prefill-link');"
        " return f.value.substring(f.selectionStart, f.selectionEnd); })()"
    )
    assert selected == field.input_value()
    assert page.console_errors == []
