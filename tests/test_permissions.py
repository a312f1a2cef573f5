"""Every URL of the app × every persona: the status each gets, and nothing leaking to people
outside the project (non-members get 404, not 403, so even names stay hidden)."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from incidents.models import AuditEntry, Membership
from tests.conftest import make_member
from tests.test_hardening import assert_strict_csp

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "outsider", "viewer", "responder", "project_admin", "superuser"]
SECRET_TITLE = "Top secret outage of the payments cluster"


@pytest.fixture
def clients(project, alice, django_user_model):
    """One logged-in client per persona; alice (from the fixtures) is the responder."""
    users = {
        "outsider": django_user_model.objects.create_user("bob"),
        "viewer": django_user_model.objects.create_user("carol"),
        "project_admin": django_user_model.objects.create_user("dave"),
        "superuser": django_user_model.objects.create_superuser("root"),
        "responder": alice,
    }
    make_member(users["viewer"], project, "viewer")
    make_member(users["project_admin"], project, "admin")
    result = {"anonymous": Client()}
    for persona, user in users.items():
        result[persona] = Client()
        result[persona].force_login(user)
    return result


@pytest.fixture
def audit_entry(project, clients):
    clients["responder"].post(
        reverse("incidents:incident_create", kwargs={"slug": project.slug}), form(SECRET_TITLE)
    )
    return AuditEntry.objects.filter(outcome="created").get()


def form(title: str = "Matrix incident") -> dict:
    return {
        "submission_key": str(uuid.uuid4()),
        "impact": "unknown",
        "title": title,
        "timezone": "UTC",
        "monitors": ["1"],
        "confirm_duplicate": "1",  # every persona declares on the same monitor
    }


def urls(project, entry) -> dict:
    slug = {"slug": project.slug}
    return {
        "home": ("get", reverse("incidents:home"), {}),
        "project": ("get", reverse("incidents:project_detail", kwargs=slug), {}),
        "create": ("post", reverse("incidents:incident_create", kwargs=slug), form()),
        "form_reload": ("post", reverse("incidents:incident_form_reload", kwargs=slug), form()),
        "search": ("get", reverse("incidents:monitor_search", kwargs=slug), {"q": "a"}),
        "refresh": ("post", reverse("incidents:monitor_sync_start", kwargs=slug), {}),
        "sync_status": ("get", reverse("incidents:monitor_sync_status", kwargs=slug), {}),
        "connection": ("post", reverse("incidents:project_connection_check", kwargs=slug), {}),
        "audit_list": ("get", reverse("incidents:audit_list"), {}),
        "audit_detail": ("get", reverse("incidents:audit_detail", args=[entry.pk]), {}),
    }


OK = {"viewer": 200, "responder": 200, "project_admin": 200, "superuser": 200}
RESPOND = {"viewer": 403, "responder": 200, "project_admin": 200, "superuser": 200}
EXPECTED = {
    "home": {"anonymous": 302, "outsider": 200} | OK,
    "project": {"anonymous": 302, "outsider": 404} | OK,
    "create": {"anonymous": 302, "outsider": 404}
    | RESPOND
    | {"responder": 302, "project_admin": 302, "superuser": 302},
    "form_reload": {"anonymous": 302, "outsider": 404} | RESPOND,
    "search": {"anonymous": 302, "outsider": 404} | RESPOND,
    "refresh": {"anonymous": 302, "outsider": 404} | RESPOND,
    "sync_status": {"anonymous": 302, "outsider": 404} | RESPOND,
    "connection": {"anonymous": 302, "outsider": 404, "viewer": 403, "responder": 403}
    | {"project_admin": 200, "superuser": 200},
    "audit_list": {"anonymous": 302, "outsider": 200} | OK,
    "audit_detail": {"anonymous": 302, "outsider": 404} | OK,
}


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(clients, project, audit_entry, sandbox, name, persona):
    method, url, data = urls(project, audit_entry)[name]
    response = getattr(clients[persona], method)(url, data)
    assert response.status_code == EXPECTED[name][persona]
    assert_strict_csp(response)
    if persona in ("anonymous", "outsider"):
        body = response.content.decode()
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
