"""Plain helpers shared by the test modules, so that no test module imports another.

Fixtures live in tests/conftest.py; everything here is an ordinary function or constant.
"""

import uuid
from html.parser import HTMLParser

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


def log_in(page: Page, live_server, user) -> None:
    """Log in through the browser as a persona of tests/conftest.py (alice the responder,
    carol the viewer, …): their password is "<username>-password-1"."""
    username = user.get_username()
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"{username}-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def pick_monitor(page: Page, query: str, name: str) -> None:
    """Search the create (or edit) form's monitor picker for `query` and pick `name`."""
    search = page.get_by_label("Monitors", exact=True)
    search.fill(query)
    option = page.locator("#monitor-options li", has_text=name)
    option.get_by_role("checkbox").check()
    expect(page.locator("#monitor-selection li", has_text=name)).to_be_visible()


# -- incidents in the sandbox and in the console's copy ---------------------------------------

# Who Phare names as the author of an update posted in its dashboard (the sandbox's control).
DASHBOARD_USER = {"id": 7, "type": "user", "label": "Phare dashboard user"}


def sandbox_incident(sandbox, **fields) -> dict:
    """An incident made in Phare itself (not through the console): stored straight into the
    sandbox's state, so nothing counts as a write the console sent."""
    body = {"title": "Checkout slow", "impact": "partial_outage", "exclude_from_downtime": False}
    return sandbox.state.create_incident(body | fields)


def copied_incident(project, sandbox, **fields):
    """An incident made in Phare and read into the console's copy (with its timeline), as the
    list's refresh would."""
    from incidents.services import incident_copy

    made = sandbox_incident(sandbox, **fields)
    return incident_copy.incident_refresh(project, made["id"])


def writes_to(sandbox, route: str) -> list[dict]:
    """The write requests of one route the sandbox received (each {"route", "id", "body"})."""
    return [write for write in sandbox.state.summary()["writes"] if write["route"] == route]


def updates_in_phare(sandbox, incident_id: int) -> list[dict]:
    return [u for u in sandbox.state.incident_updates if u["incident_id"] == incident_id]


def form_values(html: str, action: str) -> dict[str, list[str]]:
    """What a browser would submit from the form posting to `action` (without its buttons):
    hidden, text and date inputs, checked boxes, textareas and selected options."""
    parser = _FormParser(action)
    parser.feed(html)
    if not parser.found:
        raise AssertionError(f"No form posts to {action}")
    return parser.values


class _FormParser(HTMLParser):
    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.found = False
        self.values: dict[str, list[str]] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attr = {key: value if value is not None else "" for key, value in attrs}
        if tag == "form":
            self._in_form = attr.get("action") == self.action
            self.found = self.found or self._in_form
            return
        if not self._in_form or "name" not in attr:
            if tag == "option" and self._select is not None:
                self._option(attr)
            return
        name = attr["name"]
        if tag == "input":
            kind = attr.get("type", "text")
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            self._add(name, attr.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "textarea":
            self._textarea = name
            self._add(name, "")
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = name, None, False

    def _option(self, attr) -> None:
        value = attr.get("value", "")
        if self._select_first is None:
            self._select_first = value
        if "selected" in attr and not self._select_chosen:
            self._select_chosen = True
            self._add(self._select or "", value)

    def handle_data(self, data):
        if self._textarea is not None:
            self.values[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea is not None:
            # Browsers drop the newline that follows <textarea>, as Django renders it.
            text = self.values[self._textarea][-1]
            self.values[self._textarea][-1] = text[1:] if text.startswith("\n") else text
            self._textarea = None
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._add(self._select, self._select_first)
            self._select = None


# Client-level unit tests mock Phare's HTTP (respx) at this address, with this token.
MOCKED_PHARE_API = "https://phare.test"
MOCKED_TOKEN = "pha_project_token_abcd"


def project_with_token(token: str = MOCKED_TOKEN, **fields):
    """An unsaved project holding `token`, enough for a PhareClient."""
    from incidents import credentials
    from incidents.models import PhareProject

    project = PhareProject(name="Shop", slug="shop", **fields)
    credentials.encrypt_token_into(project, token)
    return project


# An incident template as its services take it (tests/conftest.py's project has monitors 2 and 4).
INCIDENT_TEMPLATE = {
    "name": "Checkout down",
    "impact": "major_outage",
    "title": "Checkout is down",
    "description": "Payments fail at the last step.",
    "monitors": [2, 4],
    "exclude_from_downtime": True,
}


# Phare's answers as the client-level tests mock them: an incident and one update of its timeline.
PHARE_INCIDENT = {
    "id": 7,
    "project_id": 1,
    "type": "manual",
    "slug": "APP-7",
    "state": "investigating",
    "status": "ongoing",
    "impact": "major_outage",
    "title": "Checkout down",
    "description": None,
    "exclude_from_downtime": False,
    "incident_at": "2026-11-28T10:00:00.000000Z",
    "recovery_at": None,
    "monitors": [1, 2],
    "created_at": "2026-11-28T10:00:01.000000Z",
    "updated_at": "2026-11-28T10:00:01.000000Z",
}
PHARE_INCIDENT_UPDATE = {
    "id": 3,
    "incident_id": 7,
    "state": "identified",
    "content": "A bad deploy; rolling back.",
    "published_at": "2026-11-28T10:10:00.000000Z",
    "creator": {"id": 1, "type": "api_key", "label": "Console key"},
    "created_at": "2026-11-28T10:10:01.000000Z",
    "updated_at": "2026-11-28T10:10:01.000000Z",
}
