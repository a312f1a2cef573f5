"""Views: login, CSRF, full page vs HTMX partial, inline errors, and never a 500."""

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from incidents import services
from incidents.models import AuditEntry, IncidentAttempt

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def create_url(project) -> str:
    return reverse("incidents:incident_create", kwargs={"slug": project.slug})


def form_data(**overrides) -> dict:
    return {
        "submission_key": str(uuid.uuid4()),
        "timezone": "UTC",
        "impact": "major_outage",
        "title": "Checkout down",
        "description": "",
        "incident_at": "",
        "recovery_at": "",
    } | overrides


@pytest.mark.parametrize("name", ["incidents:home", "incidents:audit_list"])
def test_pages_require_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_project_page_and_create_require_login(client, project, sandbox):
    assert client.get(project.get_absolute_url()).status_code == 302
    response = client.post(create_url(project), form_data())
    assert response.status_code == 302
    assert sandbox.state.create_requests == []


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_healthz_needs_no_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"


def test_home_lists_projects(alice_client, project):
    response = alice_client.get(reverse("incidents:home"))
    assert project.name in response.content.decode()


def test_form_has_the_contract_labels_and_button(alice_client, project):
    html = alice_client.get(project.get_absolute_url()).content.decode()
    for label in [
        "Impact",
        "Title",
        "Description",
        "Exclude from downtime",
        "Incident at",
        "Recovery at",
        "Monitors",
    ]:
        assert f">{label}</label>" in html
    assert ">Create incident</button>" in html
    for impact in [
        "Unknown",
        "Operational",
        "Degraded performance",
        "Partial outage",
        "Major outage",
        "Maintenance",
    ]:
        assert f">{impact}</option>" in html
    assert "Sandbox" in html  # the console is pointed at the sandbox, and says so


def test_unknown_project_is_404(alice_client, db):
    assert alice_client.get("/projects/nope/").status_code == 404


def test_plain_post_creates_and_redirects_to_the_result(alice_client, project, sandbox):
    response = alice_client.post(create_url(project), form_data(monitors=["1", "2"]))
    attempt = IncidentAttempt.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{project.get_absolute_url()}?created={attempt.pk}"
    page = alice_client.get(response["Location"]).content.decode()
    assert "Incident DEMO-1 created" in page
    assert sandbox.state.create_requests == [
        {
            "impact": "major_outage",
            "title": "Checkout down",
            "exclude_from_downtime": False,
            "monitors": [1, 2],
        }
    ]


def test_htmx_post_returns_the_result_partial_and_the_new_recent_row(alice_client, project):
    response = alice_client.post(create_url(project), form_data(), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a partial, not the page
    assert "Incident DEMO-1 created" in html
    assert 'hx-swap-oob="afterbegin:#recent-incidents"' in html
    assert 'id="incident-panel"' in html
    assert 'value="Checkout down"' not in html  # a fresh form for the next incident


def test_local_validation_error_keeps_values_and_does_not_call_phare(
    alice_client, project, sandbox
):
    response = alice_client.post(
        create_url(project),
        form_data(title="x" * 251, description="Payments fail", monitors=["3"]),
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Keep the title to 250 characters" in html
    assert "Payments fail</textarea>" in html
    assert 'value="3" checked' in html  # the picked monitor is still picked
    assert sandbox.state.create_requests == []


def test_phare_422_renders_under_the_monitors_field_with_values_kept(
    alice_client, project, sandbox
):
    monitor = project.monitors.get(phare_id=2)
    sandbox.state.delete_monitor(2)
    response = alice_client.post(
        create_url(project), form_data(title="API errors", monitors=["1", "2"]), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 422
    monitors_field = html.split('id="field-monitors"')[1].split('id="monitor-results"')[0]
    assert f"Phare does not accept monitor “{monitor.name}”" in monitors_field
    title_field = html.split('id="field-title"')[1].split('id="field-description"')[0]
    assert "errorlist" not in title_field
    assert 'value="API errors"' in html
    assert IncidentAttempt.objects.get().state == "rejected"


def test_phare_failure_shows_a_banner_and_keeps_values(alice_client, project, sandbox):
    sandbox.state.add_fault(route="create_incident", count=1, status=500)
    response = alice_client.post(create_url(project), form_data(title="DB down"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 503
    assert "Phare is having trouble (500)" in html
    assert 'value="DB down"' in html


def test_rejected_token_says_so(alice_client, project, sandbox):
    services.project_provision(name=project.name, token="pha_revoked_token")
    response = alice_client.post(create_url(project), form_data(), **HTMX)
    assert response.status_code == 502
    assert "rejected the project&#x27;s token (401)" in response.content.decode()


def test_double_submit_creates_one_incident(alice_client, project, sandbox):
    data = form_data()
    first = alice_client.post(create_url(project), data)
    second = alice_client.post(create_url(project), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert len(sandbox.state.incidents) == 1


def test_csrf_is_enforced_for_htmx_and_plain_posts(alice, project, sandbox):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(create_url(project), form_data()).status_code == 403
    assert client.post(create_url(project), form_data(), **HTMX).status_code == 403
    assert sandbox.state.create_requests == []


def test_csrf_token_from_the_page_header_is_accepted(alice, project, sandbox):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(project.get_absolute_url())
    token = client.cookies["csrftoken"].value
    response = client.post(create_url(project), form_data(), HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200


def test_monitor_search_ranks_prefix_first_and_excludes_selected(alice_client, project):
    url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    names = list(project.monitors.values_list("name", flat=True))
    word = names[0].split()[0]
    html = alice_client.get(url, {"q": word}, **HTMX).content.decode()
    assert names[0] in html
    first_id = project.monitors.get(name=names[0]).phare_id
    html = alice_client.get(url, {"q": word, "monitors": [first_id]}, **HTMX).content.decode()
    assert f'value="{first_id}"' not in html


def test_monitor_refresh_resyncs(alice_client, project, sandbox):
    sandbox.state.delete_monitor(1)
    url = reverse("incidents:monitor_refresh", kwargs={"slug": project.slug})
    response = alice_client.post(url, **HTMX)
    assert "Refreshed just now: 35 monitors" in response.content.decode()
    assert "monitors-refreshed" in json.loads(response["HX-Trigger"])
    assert not project.monitors.filter(phare_id=1).exists()


def test_audit_list_and_detail(alice_client, project, sandbox):
    alice_client.post(create_url(project), form_data(title="Audit me"))
    listing = alice_client.get(reverse("incidents:audit_list"), {"outcome": "created"})
    assert "Audit me" in listing.content.decode()
    finished = AuditEntry.objects.get(outcome="created")
    detail = alice_client.get(finished.get_absolute_url()).content.decode()
    assert "&quot;title&quot;: &quot;Audit me&quot;" in detail
    assert "DEMO-1" in detail


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"submission_key": "not-a-uuid"},
        {"impact": "major_outage", "title": "\x00\x1f" * 10, "submission_key": str(uuid.uuid4())},
        {"incident_at": "9999-99-99T99:99", "submission_key": str(uuid.uuid4())},
        {"monitors": ["1"] * 500 + ["x"], "submission_key": str(uuid.uuid4())},
        {"timezone": "../../etc/passwd", "submission_key": str(uuid.uuid4())},
        {"title": "🚨" * 300, "impact": "major_outage", "submission_key": str(uuid.uuid4())},
    ],
)
def test_bad_input_never_yields_a_500(alice_client, project, sandbox, data):
    for extra in ({}, HTMX):
        response = alice_client.post(create_url(project), data, **extra)
        assert response.status_code == 422
    assert sandbox.state.create_requests == []
