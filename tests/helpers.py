"""Plain helpers shared by the test modules, so that no test module imports another.

Fixtures live in tests/conftest.py; everything here is an ordinary function or constant.
"""

import uuid

from playwright.sync_api import Page, expect

from incidents.models import Membership, PhareProject
from incidents.views import incidents as incident_views

SANDBOX_TOKEN = "pha_test_sandbox_token_1234"

# The personas of tests/conftest.py, in the order the permission matrix lists them.
PERSONAS = ["anonymous", "outsider", "viewer", "responder", "project_admin", "superuser"]

HTMX = {"HTTP_HX_REQUEST": "true"}
# As htmx sends it from the page: the form's id names the request's trigger.
FROM_THE_FORM = HTMX | {"HTTP_HX_TRIGGER": incident_views.INCIDENT_FORM_ID}


def incident_form_data(**overrides) -> dict:
    """The create form's fields, with a fresh submission key each call (one press of the button).

    Only the fields every test sends; add the rest (monitors, description, …) as overrides.
    """
    return {
        "submission_key": str(uuid.uuid4()),
        "timezone": "UTC",
        "impact": "major_outage",
        "title": "Checkout down",
    } | overrides


def make_member(user, project: PhareProject, role: str = "responder") -> None:
    Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})


def clear_rate_budget(settings) -> None:
    """The whole budget back, as after a minute without calls (and any 429 pause over)."""
    if settings.REDIS_URL:
        from incidents import ratelimit

        client = ratelimit.budget()._redis
        for key in client.scan_iter("phare-console:rate:*"):
            client.delete(key)
    else:
        from incidents.models import RateLimitBucket

        RateLimitBucket.objects.all().delete()


def assert_strict_csp(response) -> None:
    """HTML answers carry a policy that allows only the console's own scripts and styles."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in policy


def log_in(page: Page, live_server, alice) -> None:
    """Log in through the browser as alice (the responder persona)."""
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
