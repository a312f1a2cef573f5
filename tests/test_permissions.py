"""Every URL of the console × every persona: the status each gets, and nothing leaking to
people outside the project (non-members get 404, not 403, so even names stay hidden).

A URL left out of the matrix fails test_every_url_is_in_the_matrix, by name."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from incidents.models import AuditEntry, IncidentTemplate, Membership
from tests.helpers import PERSONAS, assert_strict_csp, incident_form_data

pytestmark = pytest.mark.django_db

SECRET_TITLE = "Top secret outage of the payments cluster"
# Namespaces whose URLs guard themselves and are tested elsewhere (Django's admin: test_admin).
NOT_IN_THE_MATRIX = {"admin"}


@pytest.fixture
def audit_entry(project, clients):
    clients["responder"].post(
        reverse("incidents:incident_create", kwargs={"slug": project.slug}), form(SECRET_TITLE)
    )
    return AuditEntry.objects.filter(outcome="created").get()


def form(title: str = "Matrix incident") -> dict:
    # confirm_duplicate: every persona declares on the same monitor
    return incident_form_data(impact="unknown", title=title, monitors=["1"], confirm_duplicate="1")


def template_data(name: str = "Matrix template") -> dict:
    return {"save": "1", "name": name, "impact": "major_outage", "title": "Down", "monitors": ["1"]}


def urls(project, entry) -> dict:
    """Every URL name → the request the matrix sends to it: (method, URL, data)."""
    slug = {"slug": project.slug}
    one = slug | {"incident_id": entry.phare_incident_id}
    template, _ = IncidentTemplate.objects.get_or_create(
        project=project, name="Matrix template", defaults={"impact": "unknown", "title": "Down"}
    )
    one_template = slug | {"template_id": template.pk}
    return {
        "incidents:incident_template_list": (
            "get",
            reverse("incidents:incident_template_list", kwargs=slug),
            {},
        ),
        "incidents:incident_template_create": (
            "post",
            reverse("incidents:incident_template_create", kwargs=slug),
            template_data("Another template"),
        ),
        "incidents:incident_template_change": (
            "post",
            reverse("incidents:incident_template_change", kwargs=one_template),
            template_data(),
        ),
        "incidents:incident_template_delete": (
            "post",
            reverse("incidents:incident_template_delete", kwargs=one_template),
            {},
        ),
        "login": ("get", reverse("login"), {}),
        "logout": ("post", reverse("logout"), {}),
        "healthz": ("get", reverse("healthz"), {}),
        "incidents:home": ("get", reverse("incidents:home"), {}),
        "incidents:project_detail": (
            "get",
            reverse("incidents:project_detail", kwargs=slug),
            {},
        ),
        "incidents:project_connection_check": (
            "post",
            reverse("incidents:project_connection_check", kwargs=slug),
            {},
        ),
        "incidents:incident_create": (
            "post",
            reverse("incidents:incident_create", kwargs=slug),
            form(),
        ),
        "incidents:incident_form_reload": (
            "post",
            reverse("incidents:incident_form_reload", kwargs=slug),
            form(),
        ),
        "incidents:incident_preview": (
            "post",
            reverse("incidents:incident_preview", kwargs=slug),
            form(),
        ),
        "incidents:monitor_search": (
            "get",
            reverse("incidents:monitor_search", kwargs=slug),
            {"q": "a"},
        ),
        "incidents:monitor_sync_start": (
            "post",
            reverse("incidents:monitor_sync_start", kwargs=slug),
            {},
        ),
        "incidents:monitor_sync_status": (
            "get",
            reverse("incidents:monitor_sync_status", kwargs=slug),
            {},
        ),
        "incidents:audit_list": ("get", reverse("incidents:audit_list"), {}),
        "incidents:audit_export_csv": ("get", reverse("incidents:audit_export_csv"), {}),
        "incidents:audit_export_jsonl": ("get", reverse("incidents:audit_export_jsonl"), {}),
        "incidents:audit_detail": ("get", reverse("incidents:audit_detail", args=[entry.pk]), {}),
        "incidents:incident_list": ("get", reverse("incidents:incident_list", kwargs=slug), {}),
        "incidents:incident_list_refresh_start": (
            "post",
            reverse("incidents:incident_list_refresh_start", kwargs=slug),
            {},
        ),
        "incidents:incident_detail": ("get", reverse("incidents:incident_detail", kwargs=one), {}),
        # Without "save" the edit form only searches monitors: nothing is sent to Phare.
        "incidents:incident_edit": ("post", reverse("incidents:incident_edit", kwargs=one), {}),
        "incidents:incident_update_create": (
            "post",
            reverse("incidents:incident_update_create", kwargs=one),
            {"submission_key": str(uuid.uuid4()), "state": "identified", "content": "Found it."},
        ),
        "incidents:incident_recover": (
            "post",
            reverse("incidents:incident_recover", kwargs=one),
            {"submission_key": str(uuid.uuid4()), "update_submission_key": str(uuid.uuid4())},
        ),
        "incidents:incident_delete": (
            "post",
            reverse("incidents:incident_delete", kwargs=one),
            {"submission_key": str(uuid.uuid4()), "confirm_title": SECRET_TITLE},
        ),
    }


EVERYONE = dict.fromkeys(PERSONAS, 200)
OK = {"viewer": 200, "responder": 200, "project_admin": 200, "superuser": 200}
RESPOND = {"viewer": 403, "responder": 200, "project_admin": 200, "superuser": 200}
WRITE = {"viewer": 403, "responder": 302, "project_admin": 302, "superuser": 302}
MANAGE_WRITE = {"viewer": 403, "responder": 403, "project_admin": 302, "superuser": 302}
EXPECTED = {
    "incidents:incident_template_list": {"anonymous": 302, "outsider": 404}
    | {"viewer": 403, "responder": 403, "project_admin": 200, "superuser": 200},
    "incidents:incident_template_create": {"anonymous": 302, "outsider": 404} | MANAGE_WRITE,
    "incidents:incident_template_change": {"anonymous": 302, "outsider": 404} | MANAGE_WRITE,
    "incidents:incident_template_delete": {"anonymous": 302, "outsider": 404} | MANAGE_WRITE,
    "login": EVERYONE,
    "logout": dict.fromkeys(PERSONAS, 302),
    "healthz": EVERYONE,
    "incidents:home": {"anonymous": 302, "outsider": 200} | OK,
    "incidents:project_detail": {"anonymous": 302, "outsider": 404} | OK,
    "incidents:project_connection_check": {
        "anonymous": 302,
        "outsider": 404,
        "viewer": 403,
        "responder": 403,
    }
    | {"project_admin": 200, "superuser": 200},
    "incidents:incident_create": {"anonymous": 302, "outsider": 404}
    | RESPOND
    | {"responder": 302, "project_admin": 302, "superuser": 302},
    "incidents:incident_form_reload": {"anonymous": 302, "outsider": 404} | RESPOND,
    "incidents:incident_preview": {"anonymous": 302, "outsider": 404} | RESPOND,
    "incidents:monitor_search": {"anonymous": 302, "outsider": 404} | RESPOND,
    "incidents:monitor_sync_start": {"anonymous": 302, "outsider": 404} | RESPOND,
    "incidents:monitor_sync_status": {"anonymous": 302, "outsider": 404} | RESPOND,
    "incidents:audit_list": {"anonymous": 302, "outsider": 200} | OK,
    # Streamed files; an outsider's holds no entry of the project (checked below).
    "incidents:audit_export_csv": {"anonymous": 302, "outsider": 200} | OK,
    "incidents:audit_export_jsonl": {"anonymous": 302, "outsider": 200} | OK,
    "incidents:audit_detail": {"anonymous": 302, "outsider": 404} | OK,
    "incidents:incident_list": {"anonymous": 302, "outsider": 404} | OK,
    "incidents:incident_list_refresh_start": {"anonymous": 302, "outsider": 404}
    | dict.fromkeys(OK, 302),
    "incidents:incident_detail": {"anonymous": 302, "outsider": 404} | OK,
    "incidents:incident_edit": {"anonymous": 302, "outsider": 404} | RESPOND,
    # A write without JavaScript answers with a redirect to the incident's page.
    "incidents:incident_update_create": {"anonymous": 302, "outsider": 404} | WRITE,
    "incidents:incident_recover": {"anonymous": 302, "outsider": 404} | WRITE,
    "incidents:incident_delete": {"anonymous": 302, "outsider": 404}
    | {"viewer": 403, "responder": 403, "project_admin": 302, "superuser": 302},
}


def url_names(patterns, prefix: str = "") -> set[str]:
    """The names of these URL patterns and of those they include, namespaced as reverse() wants."""
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in NOT_IN_THE_MATRIX:
                continue
            inner = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_url_is_in_the_matrix(project, audit_entry):
    names = url_names(get_resolver().url_patterns)
    assert "incidents:home" in names and "healthz" in names  # the walk found the app
    missing = sorted(names - set(EXPECTED))
    assert not missing, (
        f"URLs missing from the permission matrix: {', '.join(missing)}. In "
        "tests/test_permissions.py, add each to urls() (the request: method, URL, data) and to "
        "EXPECTED (the status for each persona: " + ", ".join(PERSONAS) + ")."
    )
    stale = sorted(set(EXPECTED) - names)
    assert not stale, f"No such URL, remove from EXPECTED in tests/test_permissions.py: {stale}"
    assert set(urls(project, audit_entry)) == set(EXPECTED)
    for name, statuses in EXPECTED.items():
        assert set(statuses) == set(PERSONAS), f"EXPECTED[{name!r}] needs one status per persona"


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(clients, project, audit_entry, sandbox, name, persona):
    method, url, data = urls(project, audit_entry)[name]
    response = getattr(clients[persona], method)(url, data)
    assert response.status_code == EXPECTED[name][persona]
    assert_strict_csp(response)
    body = body_of(response)
    if persona in ("anonymous", "outsider"):
        monitor_name = project.monitors.get(phare_id=1).name
        for secret in (project.name, SECRET_TITLE, monitor_name, project.slug + "/"):
            assert secret not in body, f"{secret!r} leaked to {persona} on {name}"


def test_only_responders_create_in_phare(clients, project, sandbox):
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    for persona in ("outsider", "viewer"):
        clients[persona].post(url, form())
    assert sandbox.state.create_requests == []
    clients["responder"].post(url, form())
    assert len(sandbox.state.create_requests) == 1


def test_viewer_sees_incidents_but_no_form(clients, project, audit_entry):
    html = clients["viewer"].get(project.get_absolute_url()).content.decode()
    assert SECRET_TITLE in html
    assert "Create incident</button>" not in html
    assert "ask a project admin to make you a responder" in html


def test_audit_log_shows_only_entries_of_visible_projects(clients, audit_entry):
    for persona, visible in [("outsider", False), ("viewer", True), ("superuser", True)]:
        html = clients[persona].get(reverse("incidents:audit_list")).content.decode()
        assert (SECRET_TITLE in html) is visible


def test_add_member_sets_and_changes_a_role(project, django_user_model):
    django_user_model.objects.create_user("erin")
    out = StringIO()
    call_command("add_member", project.slug, "erin", "--role", "viewer", stdout=out)
    call_command("add_member", project.slug, "erin", "--role", "admin", stdout=out)
    assert Membership.objects.get(user__username="erin").role == "admin"
    assert out.getvalue().splitlines() == [
        "erin is now viewer of Demo.",
        "erin changed to admin of Demo.",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghost", "alice"], "No such project: ghost."),
        (["demo", "nobody"], "No such user: nobody."),
    ],
)
def test_add_member_errors(project, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("add_member", *args, "--role", "viewer")
