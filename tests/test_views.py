"""Views: login, CSRF, full page vs HTMX partial, inline errors, and never a 500."""

import json
import uuid
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from incidents import services
from incidents.models import AuditEntry, IncidentAttempt
from incidents.views import incidents as incident_views
from tests.helpers import FROM_THE_FORM, HTMX, incident_form_data

pytestmark = pytest.mark.django_db


def create_url(project) -> str:
    return reverse("incidents:incident_create", kwargs={"slug": project.slug})


def form_data(**overrides) -> dict:
    """As the page posts it: the optional text fields present, and empty unless given."""
    return incident_form_data(
        **({"description": "", "incident_at": "", "recovery_at": ""} | overrides)
    )


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
    assert "<legend>Impact</legend>" in html  # a group of radios
    for label in [
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
        assert f'<span class="choice-name">{impact}</span>' in html
    assert "Sandbox" in html  # the console is pointed at the sandbox, and says so


def test_no_page_prints_a_template_comment(alice_client, project, sandbox):
    """A {# … #} comment spanning lines is printed as text by Django's template engine."""
    alice_client.post(create_url(project), form_data(monitors=["1"]))
    pages = [
        reverse("incidents:home"),
        project.get_absolute_url(),
        reverse("incidents:audit_list"),
        reverse("incidents:audit_detail", args=[AuditEntry.objects.first().pk]),
    ]
    for url in pages:
        html = alice_client.get(url).content.decode()
        assert "{#" not in html and "#}" not in html, url
        assert "{%" not in html, url


def test_unknown_project_is_404(alice_client, db):
    response = alice_client.get("/projects/nope/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Back to your projects" in html  # the console's own page, in its style
    assert "incidents/console.css" in html


def test_plain_post_creates_and_redirects_to_the_result(alice_client, project, sandbox):
    response = alice_client.post(create_url(project), form_data(monitors=["1", "2"]))
    attempt = IncidentAttempt.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{project.get_absolute_url()}?created={attempt.pk}"
    page = alice_client.get(response["Location"]).content.decode()
    assert "Incident DEMO-1 created" in page
    # The start left empty is sent as the console's "now" (issue 12).
    sent_start = datetime.fromisoformat(sandbox.state.create_requests[0]["incident_at"])
    assert abs(sent_start - attempt.created_at) < timedelta(seconds=5)
    assert sandbox.state.create_requests == [
        {
            "impact": "major_outage",
            "title": "Checkout down",
            "exclude_from_downtime": False,
            "incident_at": sandbox.state.create_requests[0]["incident_at"],
            "monitors": [1, 2],
        }
    ]


def test_htmx_post_returns_the_result_the_next_key_and_the_new_recent_row(alice_client, project):
    data = form_data()
    response = alice_client.post(create_url(project), data, **FROM_THE_FORM)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a partial, not the page
    assert 'id="incident-panel"' not in html  # the form is not rendered again
    assert response["HX-Retarget"] == "#created-slot"
    assert response["HX-Reswap"] == "innerHTML"
    assert "incident-created" in response["HX-Trigger-After-Swap"]  # the script clears the form
    assert "Incident DEMO-1 created" in html
    assert 'hx-swap-oob="afterbegin:#recent-incidents"' in html
    assert '<span id="submission-key" hx-swap-oob="true">' in html
    next_key = submitted_key(html)
    assert next_key != data["submission_key"]
    again = alice_client.post(
        create_url(project), form_data(submission_key=next_key), **FROM_THE_FORM
    )
    assert "Incident DEMO-2 created" in again.content.decode()


def test_the_pages_form_carries_the_id_the_short_answer_relies_on(alice_client, project):
    html = alice_client.get(project.get_absolute_url()).content.decode()
    assert f'class="card incident-form" id="{incident_views.INCIDENT_FORM_ID}"' in html


def test_a_page_served_before_the_short_answer_gets_the_whole_panel(alice_client, project):
    """Its form has no id, so htmx sends no HX-Trigger, and it has no #created-slot."""
    response = alice_client.post(create_url(project), form_data(), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Retarget" not in response
    assert 'id="incident-panel"' in html
    assert "Incident DEMO-1 created" in html
    assert 'hx-swap-oob="afterbegin:#recent-incidents"' in html
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
    html = client.get(project.get_absolute_url()).content.decode()
    headers = json.loads(html.split("hx-headers='")[1].split("'")[0])
    response = client.post(
        create_url(project), form_data(), HTTP_X_CSRFTOKEN=headers["X-CSRFToken"], **HTMX
    )
    assert response.status_code == 200


def result_names(html: str) -> list[str]:
    return [part.split("</span>")[0] for part in html.split('class="monitor-name">')[1:]]


def test_monitor_search_ranks_name_prefix_first_then_broken_monitors(alice_client, project):
    edits = {
        1: {"name": "zeta checkout api"},
        2: {"name": "checkout web"},
        3: {"name": "checkout worker", "status": "offline"},
        4: {"name": "legacy", "target": "https://checkout.example"},
    }
    for phare_id, fields in edits.items():
        monitor = project.monitors.get(phare_id=phare_id)
        for name, value in fields.items():
            setattr(monitor, name, value)
        monitor.save()
    url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    html = alice_client.get(url, {"q": "CHECKOUT"}, **HTMX).content.decode()
    assert result_names(html) == ["checkout worker", "checkout web", "zeta checkout api", "legacy"]
    assert "4 monitors" in html


def test_monitor_search_puts_the_id_first_and_excludes_selected(alice_client, project):
    url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    name = project.monitors.get(phare_id=7).name
    assert result_names(alice_client.get(url, {"q": "7"}, **HTMX).content.decode())[0] == name
    first = project.monitors.get(phare_id=1)
    first.name = "zz last by name 2"
    first.save()
    project.monitors.filter(phare_id=2).update(search_name="1 starts with one")
    assert result_names(alice_client.get(url, {"q": "1"}, **HTMX).content.decode())[0] == (
        "zz last by name 2"
    )
    html = alice_client.get(url, {"q": "7", "monitors": ["7"]}, **HTMX).content.decode()
    assert 'value="7"' not in html


def test_monitor_search_shows_every_match_up_to_100_and_offers_select_all(alice_client, project):
    url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    html = alice_client.get(url, {"q": ""}, **HTMX).content.decode()
    assert len(result_names(html)) == 36 and "36 monitors" in html
    assert "Select all 36" in html


def test_monitor_refresh_resyncs(alice_client, project, sandbox):
    sandbox.state.delete_monitor(1)
    url = reverse("incidents:monitor_sync_start", kwargs={"slug": project.slug})
    response = alice_client.post(url, **HTMX)
    assert "Monitor list from Phare as of" in response.content.decode()
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


def submitted_key(html: str) -> str:
    return html.split('name="submission_key" value="')[1].split('"')[0]


def test_after_phares_422_the_corrected_form_can_be_sent_again(alice_client, project, sandbox):
    sandbox.state.delete_monitor(2)
    data = form_data(title="API errors", monitors=["1", "2"])
    rejected = alice_client.post(create_url(project), data, **HTMX)
    assert rejected.status_code == 422
    new_key = submitted_key(rejected.content.decode())
    assert new_key != data["submission_key"]
    created = alice_client.post(
        create_url(project), data | {"submission_key": new_key, "monitors": ["1"]}, **HTMX
    )
    assert "Incident DEMO-1 created" in created.content.decode()
    assert len(sandbox.state.create_requests) == 2


def test_after_a_5xx_pressing_again_sends_again(alice_client, project, sandbox):
    sandbox.state.add_fault(route="create_incident", count=1, status=503)
    data = form_data()
    failed = alice_client.post(create_url(project), data, **HTMX)
    assert failed.status_code == 503
    retry = data | {"submission_key": submitted_key(failed.content.decode())}
    assert alice_client.post(create_url(project), retry, **HTMX).status_code == 200
    assert len(sandbox.state.incidents) == 1


def test_after_an_unknown_outcome_pressing_again_finds_the_incident_in_phare(
    alice_client, project, sandbox, settings
):
    settings.PHARE_TIMEOUT = 0.2
    # Phare creates the incident, then answers too late.
    sandbox.state.add_fault(route="create_incident", action="process_then_delay", delay_ms=1000)
    data = form_data()
    unknown = alice_client.post(create_url(project), data, **HTMX)
    assert unknown.status_code == 504
    html = unknown.content.decode()
    assert "may have been created" in html
    assert "first looks for this incident in Phare" in html
    assert submitted_key(html) == data["submission_key"]

    again = alice_client.post(create_url(project), data, **HTMX)
    assert again.status_code == 200
    html = again.content.decode()
    assert "Incident DEMO-1 created" in html
    assert "the console found it there and sent nothing again" in html
    assert len(sandbox.state.create_requests) == 1
    assert len(sandbox.state.incidents) == 1
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.found_in_phare, attempt.sends) == ("created", True, 1)
    assert list(attempt.audit_entries.order_by("id").values_list("action", "outcome")) == [
        ("incident.create.started", "pending"),
        ("incident.create.finished", "unknown"),
        ("incident.create.reconciled", "created"),
    ]


def test_after_an_unknown_outcome_with_nothing_in_phare_pressing_again_sends_once_more(
    alice_client, project, sandbox, settings
):
    settings.PHARE_TIMEOUT = 0.2
    sandbox.state.add_fault(route="create_incident", status=201, delay_ms=1000)  # not created
    data = form_data()
    assert alice_client.post(create_url(project), data, **HTMX).status_code == 504
    again = alice_client.post(create_url(project), data, **HTMX)
    assert again.status_code == 200
    assert "Incident DEMO-1 created" in again.content.decode()
    assert len(sandbox.state.create_requests) == 2
    assert len(sandbox.state.incidents) == 1
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.found_in_phare, attempt.sends) == ("created", False, 2)
    assert list(attempt.audit_entries.order_by("id").values_list("action", "outcome")) == [
        ("incident.create.started", "pending"),
        ("incident.create.finished", "unknown"),
        ("incident.create.reconciled", "not_found"),
        ("incident.create.started", "pending"),
        ("incident.create.finished", "created"),
    ]


def test_422_with_only_a_message_shows_that_message(alice_client, project, sandbox):
    sandbox.state.add_fault(
        route="create_incident",
        count=1,
        status=422,
        body='{"message": "Too many open incidents for this project."}',
    )
    response = alice_client.post(create_url(project), form_data(), **HTMX)
    assert response.status_code == 422
    assert "Too many open incidents for this project." in response.content.decode()


def test_audit_keeps_phares_whole_answer(alice_client, project, sandbox):
    alice_client.post(create_url(project), form_data(description="Full body"))
    finished = AuditEntry.objects.get(outcome="created")
    assert finished.response_body == sandbox.state.incidents[0]
    assert finished.response_body["type"] == "manual"


def test_htmx_double_submit_shows_the_result_without_a_second_recent_row(
    alice_client, project, sandbox
):
    data = form_data()
    first = alice_client.post(create_url(project), data, **FROM_THE_FORM).content.decode()
    second = alice_client.post(create_url(project), data, **FROM_THE_FORM).content.decode()
    assert "#recent-incidents" in first
    assert "Incident DEMO-1 created" in second and "#recent-incidents" not in second
    assert len(sandbox.state.incidents) == 1


def test_expired_session_on_htmx_gets_401_not_the_login_page(client, project, sandbox):
    response = client.post(create_url(project), form_data(), **HTMX)
    assert response.status_code == 401
    assert b"<form" not in response.content


def test_no_js_search_keeps_everything_typed(alice_client, project, sandbox):
    reload_url = reverse("incidents:incident_form_reload", kwargs={"slug": project.slug})
    target = project.monitors.get(phare_id=9)
    data = form_data(title="Kept", description="Also kept", monitors=["3"], q=target.name)
    html = alice_client.post(reload_url, data).content.decode()
    assert 'value="Kept"' in html and "Also kept</textarea>" in html
    assert 'value="3" checked' in html
    assert result_names(html.split('id="monitor-results"')[1])[0] == target.name
    assert submitted_key(html) == data["submission_key"]
    assert sandbox.state.create_requests == []


def test_no_js_refresh_keeps_everything_typed(alice_client, project, sandbox):
    sandbox.state.delete_monitor(5)
    reload_url = reverse("incidents:incident_form_reload", kwargs={"slug": project.slug})
    html = alice_client.post(
        reload_url, form_data(title="Kept", refresh_monitors="1")
    ).content.decode()
    assert 'value="Kept"' in html
    assert "Monitor list from Phare as of" in html
    assert not project.monitors.filter(phare_id=5).exists()


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("incidents:project_detail", {"created": "²"}),
        ("incidents:project_detail", {"created": "99999999999999999999999"}),
        ("incidents:monitor_search", {"monitors": ["²", "99999999999999999999999", "-1"]}),
        ("incidents:monitor_search", {"q": "²"}),
        ("incidents:monitor_search", {"q": "a\x00b"}),
        ("incidents:monitor_search", {"q": "9" * 40}),
    ],
)
def test_odd_query_strings_never_yield_a_500(alice_client, project, name, params):
    response = alice_client.get(reverse(name, kwargs={"slug": project.slug}), params)
    assert response.status_code == 200


@pytest.mark.parametrize("field", ["project", "actor", "outcome", "page"])
def test_odd_audit_filters_never_yield_a_500(alice_client, db, field):
    response = alice_client.get(reverse("incidents:audit_list"), {field: "x\x00²"})
    assert response.status_code == 200


# -- picker counts, error summary, times in the viewer's zone ----------------------------------


def test_monitor_search_says_when_every_match_is_picked(alice_client, project):
    url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    from incidents import selectors

    ids = [str(m.phare_id) for m in selectors.monitor_search(project, "checkout")[0]]
    assert len(ids) >= 2  # by name or URL
    html = alice_client.get(url, {"q": "checkout"}, **HTMX).content.decode()
    assert f"Select all {len(ids)}" in html
    html = alice_client.get(url, {"q": "checkout", "monitors": ids}, **HTMX).content.decode()
    assert f"All {len(ids)} matches picked." in html
    assert "Select all" not in html and "No monitor matches" not in html
    html = alice_client.get(url, {"q": "checkout", "monitors": ids[1:]}, **HTMX).content.decode()
    assert "1 monitor\n" in html or "1 monitor<" in html
    assert "Select all" not in html  # one left: nothing to select all of
    assert f'data-picked="{len(ids) - 1}"' in html
    html = alice_client.get(url, {"q": "no such monitor", "monitors": ids}, **HTMX).content
    assert "No monitor matches." in html.decode()


def test_the_form_page_says_when_every_match_is_picked(alice_client, project):
    """The no-JavaScript search posts the whole form back; the picked ones are not listed."""
    from incidents import selectors

    monitors = selectors.monitor_search(project, "checkout")[0]
    url = reverse("incidents:incident_form_reload", kwargs={"slug": project.slug})
    data = form_data(q="checkout", monitors=[str(m.phare_id) for m in monitors])
    html = alice_client.post(url, data).content.decode()
    assert f"All {len(monitors)} matches picked." in html
    assert 'id="select-all-matches"' not in html


def test_a_refused_form_opens_with_an_error_summary_linking_each_field(alice_client, project):
    response = alice_client.post(create_url(project), form_data(impact="", title=""), **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    start = html.index('id="error-summary"')
    summary = html[start : html.index("</div>", start)]
    assert 'role="alert"' in summary and 'tabindex="-1"' in summary
    assert "2 fields need attention" in summary
    assert 'href="#id_impact_0">Impact: Choose the impact.</a>' in summary
    assert 'href="#id_title">Title: Give the incident a title.</a>' in summary
    # It comes first in the form, before the fields it names.
    assert html.index('id="error-summary"') < html.index('id="id_impact_0"')


def test_a_failure_banner_is_in_the_error_summary(alice_client, project, sandbox):
    sandbox.state.add_fault(route="create_incident", status=503)
    response = alice_client.post(create_url(project), form_data(), **HTMX)
    assert response.status_code in (502, 503)
    html = response.content.decode()
    start = html.index('id="error-summary"')
    assert "Something needs your attention" in html[start:]
    assert html.index('id="form-banner"') > start  # the banner's text, inside the summary


def test_the_moment_tag_names_the_viewers_zone_with_utc_on_hover():
    from zoneinfo import ZoneInfo

    from django.template import Context, Template
    from django.utils import timezone

    template = Template("{% load console %}{% moment winter %} {% moment summer seconds=True %}")
    winter = datetime(2026, 1, 15, 13, 30, tzinfo=ZoneInfo("UTC"))
    summer = datetime(2026, 7, 1, 12, 30, 5, tzinfo=ZoneInfo("UTC"))
    with timezone.override(ZoneInfo("Europe/Paris")):
        html = template.render(Context({"winter": winter, "summer": summer}))
    assert (
        '<time datetime="2026-01-15T13:30:00Z" title="2026-01-15 13:30 UTC">'
        "2026-01-15 14:30 CET</time>"
    ) in html
    assert 'title="2026-07-01 12:30:05 UTC">2026-07-01 14:30:05 CEST</time>' in html


def test_recently_created_and_the_audit_log_show_times_in_the_viewers_zone(
    alice_client, project, sandbox
):
    from zoneinfo import ZoneInfo

    alice_client.cookies["tz"] = "America/New_York"
    assert alice_client.post(create_url(project), form_data()).status_code == 302
    attempt = IncidentAttempt.objects.get()
    local = attempt.finished_at.astimezone(ZoneInfo("America/New_York"))
    shown = local.strftime("%Y-%m-%d %H:%M ") + local.tzname()
    utc = attempt.finished_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
    page = alice_client.get(project.get_absolute_url()).content.decode()
    recent = page[page.index('id="recent-incidents"') :]
    assert f'title="{utc}">{shown}</time>' in recent
    audit = alice_client.get(reverse("incidents:audit_list")).content.decode()
    assert local.tzname() in audit and " UTC" in audit  # the zone named, UTC on hover
    assert "When (UTC)" not in audit
