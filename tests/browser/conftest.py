"""Playwright driving Debian's Chromium against a live console and the Phare sandbox."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Chromium logs every 4xx answer; these carry the form back (Phare's 422, the duplicate's 409).
EXPECTED_ANSWERS = ("the server responded with a status of 422", "status of 409 (Conflict)")
# What htmx logs, one line after the other, when it aborts a request.
SUPERSEDED = ("htmx:afterRequest", "htmx:sendAbort")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"Browser leg required (REQUIRE_BROWSER is set): {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def open_recorded_page(browser):
    """A new context and its page, recording console errors and CSP violations in
    `page.console_errors`; the caller closes the context."""
    context = browser.new_context(timezone_id="Europe/Paris", locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.console_errors = []

    def record(message) -> None:
        text = message.text
        if message.type != "error" or any(answer in text for answer in EXPECTED_ANSWERS):
            return
        previous = page.console_errors[-1] if page.console_errors else ""
        if text.startswith(SUPERSEDED[1]) and previous.startswith(SUPERSEDED[0]):
            # A request that a newer one replaced (the search box's hx-sync "replace", on a
            # busy machine): htmx logs the abort as an error, though nothing failed.
            page.console_errors.pop()
            return
        page.console_errors.append(text)

    page.on("console", record)
    # Chromium reports most violations on the console; this catches every one, by name.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) => console.error("
        "'CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI))"
    )
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return context, page


@pytest.fixture(autouse=True)
def sandbox_at_full_speed(request):
    """The sandbox lives for the whole session and its reset keeps `latency_ms`: a test that
    slows it down must not slow down the tests after it."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("running_sandbox").state.latency_ms = 0


@pytest.fixture
def page(browser):
    context, page = open_recorded_page(browser)
    yield page
    context.close()


@pytest.fixture
def other_page(browser):
    """A second browser context (another person, or another tab's cookies), recorded alike."""
    context, page = open_recorded_page(browser)
    yield page
    context.close()
