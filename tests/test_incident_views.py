"""The incident list and one incident's page through django.test.Client: who sees which form,
full page vs HTMX partial, inline errors with what was typed kept, plain POSTs without
JavaScript, 404s, and the edit conflict shown side by side."""

import json
import re
import uuid

import pytest
from django.urls import reverse

from incidents.models import IncidentAttempt, PhareIncident
from tests.helpers import (
    FROM_THE_FORM,
    HTMX,
    copied_incident,
    form_values,
    incident_form_data,
    sandbox_incident,
    updates_in_phare,
    writes_to,
)

pytestmark = pytest.mark.django_db

STARTED = "2026-03-01T10:00:42Z"  # seconds on purpose: the form shows minutes


@pytest.fixture
def incident(project, sandbox) -> PhareIncident:
    return copied_incident(
        project,
        sandbox,
        title="Checkout slow",
        impact="partial_outage",
        monitors=[1],
        description="Card payments time out.",
        incident_at=STARTED,
    )


def url(name: str, incident: PhareIncident) -> str:
    return reverse(
        f"incidents:{name}",
        kwargs={"slug": incident.project.slug, "incident_id": incident.phare_id},
    )


def list_url(project) -> str:
    return reverse("incidents:incident_list", kwargs={"slug": project.slug})


def update_data(**overrides) -> dict:
    return {
        "submission_key": str(uuid.uuid4()),
        "timezone": "UTC",
        "state": "identified",
        "content": "Cause found: a bad deploy.",
        "published_at": "",
    } | overrides


def page_of(client, incident) -> str:
    response = client.get(incident.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def edit_form(html: str, incident) -> dict[str, list[str]]:
    """The edit form as the page rendered it, ready to post (Save pressed)."""
    return form_values(html, url("incident_edit", incident)) | {"save": ["1"]}


# -- who sees what ------------------------------------------------------------------------------


def test_a_viewer_sees_the_list_and_the_incident_without_any_form(clients, incident, viewer):
    viewer_client = clients["viewer"]
    listing = viewer_client.get(list_url(incident.project)).content.decode()
    assert "Checkout slow" in listing and incident.get_absolute_url() in listing
    html = page_of(viewer_client, incident)
    assert '<h1><span class="slug">DEMO-1</span> Checkout slow</h1>' in html
    assert "Card payments time out." in html
    assert ">Post update</button>" not in html
    for name in ("incident_update_create", "incident_edit", "incident_recover", "incident_delete"):
        assert url(name, incident) not in html


def test_a_responder_gets_the_forms_but_not_delete(alice_client, incident):
    html = page_of(alice_client, incident)
    assert ">Post update</button>" in html
    assert url("incident_update_create", incident) in html
    assert url("incident_edit", incident) in html
    assert "Confirm recovery of “Checkout slow”" in html
    assert url("incident_delete", incident) not in html
    assert "Delete incident" not in html


def test_a_project_admin_also_gets_the_delete_form(client_for, incident, project_admin):
    html = page_of(client_for("project_admin"), incident)
    assert url("incident_delete", incident) in html
    assert ">Delete incident</button>" in html
    assert "Type the incident&#x27;s title to confirm" in html


def test_writes_are_refused_to_those_without_the_role(client_for, incident, sandbox, viewer):
    viewer_client, responder_client = client_for("viewer"), client_for("responder")
    for name, data in [
        ("incident_update_create", update_data()),
        ("incident_recover", {"submission_key": str(uuid.uuid4())}),
    ]:
        assert viewer_client.post(url(name, incident), data, **HTMX).status_code == 403
    delete = {"submission_key": str(uuid.uuid4()), "confirm_title": "Checkout slow"}
    assert responder_client.post(url("incident_delete", incident), delete).status_code == 403
    assert sandbox.state.summary()["writes"] == []


def test_an_outsider_gets_404_and_anonymous_the_login_page(client_for, incident, outsider):
    assert client_for("outsider").get(incident.get_absolute_url()).status_code == 404
    response = client_for("anonymous").get(incident.get_absolute_url())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# -- full page or partial -----------------------------------------------------------------------


def test_the_list_for_htmx_is_only_its_results(alice_client, incident):
    full = alice_client.get(list_url(incident.project)).content.decode()
    assert "<html" in full and "<h1>Incidents of Demo</h1>" in full
    partial = alice_client.get(list_url(incident.project), **HTMX)
    html = partial.content.decode()
    assert partial.status_code == 200
    assert html.lstrip().startswith('<section id="incident-results"')
    assert "<html" not in html and "Incidents of Demo" not in html
    assert "Checkout slow" in html


def test_the_live_part_of_an_incident_for_htmx(alice_client, incident):
    live = alice_client.get(incident.get_absolute_url() + "?live=1", **HTMX)
    html = live.content.decode()
    assert live.status_code == 200
    assert html.lstrip().startswith('<div id="incident-live"')
    assert "Checkout slow" not in html.split('id="incident-summary"')[0]  # no page head
    assert "<html" not in html and "Post update" not in html and "<h1>" not in html
    assert "Partial outage" in html and 'id="incident-timeline"' in html
    # Without HTMX the same address is the whole page.
    full = alice_client.get(incident.get_absolute_url() + "?live=1").content.decode()
    assert "<html" in full and "Post update" in full


# -- post an update ---------------------------------------------------------------------------


def test_posting_an_update_with_htmx_returns_the_panel_and_the_update_appears(
    alice_client, incident, sandbox
):
    data = update_data()
    response = alice_client.post(url("incident_update_create", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="incident-update-panel"')
    assert "Update posted." in html
    assert "<html" not in html
    assert "incident-changed" in response["HX-Trigger"]  # the live part shows the timeline
    # A fresh form: the next press is a new update.
    assert form_values(html, url("incident_update_create", incident))["submission_key"] != [
        data["submission_key"]
    ]
    assert "Cause found" not in html
    [posted] = updates_in_phare(sandbox, incident.phare_id)
    assert (posted["state"], posted["content"]) == ("identified", "Cause found: a bad deploy.")
    [copied] = incident.updates.all()
    assert copied.content == "Cause found: a bad deploy." and copied.posted_by.username == "alice"
    live = alice_client.get(incident.get_absolute_url() + "?live=1", **HTMX).content.decode()
    timeline = live.split('id="incident-timeline"')[1]
    assert "Identified" in timeline and "Cause found: a bad deploy." in timeline
    assert "alice" in timeline
    assert '<dd id="incident-state">identified</dd>' in live


def test_an_empty_message_is_shown_under_the_field_with_the_rest_kept(
    alice_client, incident, sandbox
):
    data = update_data(content="", state="monitoring", published_at="2026-03-01T10:30")
    response = alice_client.post(url("incident_update_create", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    field = html.split('id="field-content"')[1].split("</div>")[0]
    assert "Write what is happening." in field
    kept = form_values(html, url("incident_update_create", incident))
    assert kept["state"] == ["monitoring"]
    assert kept["published_at"] == ["2026-03-01T10:30"]
    assert kept["submission_key"] == [data["submission_key"]]
    assert writes_to(sandbox, "create_incident_update") == []


def test_phares_422_on_an_update_is_shown_under_its_field(alice_client, incident, sandbox):
    sandbox.state.add_fault(
        route="create_incident_update",
        status=422,
        body=json.dumps(
            {
                "message": "The content field must not contain links.",
                "errors": {"content": ["The content field must not contain links."]},
            }
        ),
    )
    data = update_data(content="See https://example.com")
    response = alice_client.post(url("incident_update_create", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "The content field must not contain links." in html.split('id="field-content"')[1]
    assert "See https://example.com" in html


def test_without_javascript_a_posted_update_redirects_to_the_incident(
    alice_client, incident, sandbox
):
    response = alice_client.post(url("incident_update_create", incident), update_data())
    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()
    assert "Cause found: a bad deploy." in page_of(alice_client, incident)


def test_an_unknown_outcome_keeps_the_key_and_says_to_press_again(alice_client, incident, sandbox):
    sandbox.state.add_fault(route="create_incident_update", action="process_then_drop")
    data = update_data()
    response = alice_client.post(url("incident_update_create", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 504
    assert "The update may have been posted" in html
    assert "Press the button again" in html
    kept = form_values(html, url("incident_update_create", incident))
    assert kept["submission_key"] == [data["submission_key"]]
    assert kept["content"] == [data["content"]]
    again = alice_client.post(url("incident_update_create", incident), data, **HTMX)
    assert again.status_code == 200 and "Update posted." in again.content.decode()
    assert len(writes_to(sandbox, "create_incident_update")) == 1
    assert len(updates_in_phare(sandbox, incident.phare_id)) == 1


# -- edit -------------------------------------------------------------------------------------


def test_saving_the_edit_form_sends_only_what_was_changed(alice_client, incident, sandbox):
    data = edit_form(page_of(alice_client, incident), incident)
    assert data["incident_at"] == ["2026-03-01T10:00"]  # as the page shows it
    data["title"] = ["Checkout down"]
    response = alice_client.post(url("incident_edit", incident), data, **HTMX)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Changes saved." in response.content.decode()
    assert "incident-changed" in response["HX-Trigger"]
    [write] = writes_to(sandbox, "edit_incident")
    assert write["body"] == {"title": "Checkout down"}
    in_phare = sandbox.state.get_incident(incident.phare_id)
    assert in_phare["incident_at"].startswith("2026-03-01T10:00:42")  # untouched, seconds too


def test_the_edit_form_saves_a_new_start_time(alice_client, incident, sandbox):
    data = edit_form(page_of(alice_client, incident), incident)
    data["incident_at"] = ["2026-03-01T09:45"]
    response = alice_client.post(url("incident_edit", incident), data, **HTMX)
    assert response.status_code == 200
    [write] = writes_to(sandbox, "edit_incident")
    assert write["body"] == {"incident_at": "2026-03-01T09:45:00Z"}


def test_saving_an_unchanged_edit_form_says_nothing_changed(alice_client, incident, sandbox):
    data = edit_form(page_of(alice_client, incident), incident)
    response = alice_client.post(url("incident_edit", incident), data, **HTMX)
    assert response.status_code == 422
    assert "Nothing changed" in response.content.decode()
    assert writes_to(sandbox, "edit_incident") == []


def test_an_edit_on_a_stale_form_shows_the_conflict_then_applies_on_top(
    alice_client, incident, sandbox
):
    mine = edit_form(page_of(alice_client, incident), incident)
    # Someone changes the impact in Phare while alice edits the title.
    sandbox.state.edit_incident(incident.phare_id, {"impact": "major_outage"}, control=True)
    mine["title"] = ["Checkout down everywhere"]

    response = alice_client.post(url("incident_edit", incident), mine, **HTMX)

    html = response.content.decode()
    assert response.status_code == 409
    assert html.lstrip().startswith('<details class="card" id="incident-edit-panel" open>')
    assert "This incident changed in Phare while you were editing" in html
    assert (
        '<tr><th scope="row">Impact</th><td>partial outage</td><td>major outage</td></tr>' in html
    )
    assert html.count('<th scope="row">') == 1  # only the impact moved
    assert writes_to(sandbox, "edit_incident") == []
    again = form_values(html, url("incident_edit", incident))
    base = json.loads(again["base"][0])
    assert base["impact"] == "major_outage" and base["title"] == "Checkout slow"
    assert again["impact"] == ["major_outage"]  # Phare's new value
    assert again["title"] == ["Checkout down everywhere"]  # alice's own change kept
    assert again["description"] == ["Card payments time out."]
    assert again["monitors"] == ["1"]
    assert "Apply my changes on top" in html

    saved = alice_client.post(url("incident_edit", incident), again | {"save": ["1"]}, **HTMX)

    assert saved.status_code == 200, saved.content.decode()[:2000]
    [write] = writes_to(sandbox, "edit_incident")
    assert write["body"] == {"title": "Checkout down everywhere"}
    in_phare = sandbox.state.get_incident(incident.phare_id)
    assert (in_phare["impact"], in_phare["title"]) == ("major_outage", "Checkout down everywhere")
    assert in_phare["incident_at"].startswith("2026-03-01T10:00:42")


def test_phares_422_on_an_edit_is_shown_under_its_field(alice_client, incident, sandbox):
    data = edit_form(page_of(alice_client, incident), incident)
    sandbox.state.delete_monitor(2)  # still in the console's list, gone from Phare
    data["monitors"] = ["1", "2"]
    response = alice_client.post(url("incident_edit", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    monitors_field = html.split('id="field-monitors"')[1]
    assert "Phare does not accept monitor" in monitors_field
    assert sandbox.state.get_incident(incident.phare_id)["monitors"] == [1]


def test_without_javascript_a_saved_edit_redirects_to_the_incident(alice_client, incident, sandbox):
    data = edit_form(page_of(alice_client, incident), incident)
    data["impact"] = ["major_outage"]
    response = alice_client.post(url("incident_edit", incident), data)
    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()
    assert sandbox.state.get_incident(incident.phare_id)["impact"] == "major_outage"


# -- recover and delete -------------------------------------------------------------------------


def test_recovering_with_a_resolved_update(alice_client, incident, sandbox):
    data = {
        "submission_key": str(uuid.uuid4()),
        "update_submission_key": str(uuid.uuid4()),
        "message": "Payments flow again.",
    }
    response = alice_client.post(url("incident_recover", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Marked recovered." in html and "This incident is recovered" in html
    [update] = updates_in_phare(sandbox, incident.phare_id)
    assert (update["state"], update["content"]) == ("resolved", "Payments flow again.")
    assert sandbox.state.get_incident(incident.phare_id)["status"] == "recovered"
    incident.refresh_from_db()
    assert incident.is_recovered and incident.recovery_at is not None
    # The same form again: nothing is sent twice.
    alice_client.post(url("incident_recover", incident), data, **HTMX)
    assert len(writes_to(sandbox, "recover_incident")) == 1
    assert len(writes_to(sandbox, "create_incident_update")) == 1


def test_without_javascript_a_recovery_redirects_to_the_incident(alice_client, incident, sandbox):
    data = {"submission_key": str(uuid.uuid4()), "update_submission_key": str(uuid.uuid4())}
    response = alice_client.post(url("incident_recover", incident), data)
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    assert sandbox.state.get_incident(incident.phare_id)["status"] == "recovered"
    assert updates_in_phare(sandbox, incident.phare_id) == []  # no message, no update


def test_delete_needs_the_exact_title(client_for, incident, sandbox, project_admin):
    admin = client_for("project_admin")
    data = {"submission_key": str(uuid.uuid4()), "confirm_title": "Checkout"}
    response = admin.post(url("incident_delete", incident), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "That is not the incident&#x27;s title; nothing was deleted." in html
    assert writes_to(sandbox, "delete_incident") == []
    assert sandbox.state.get_incident(incident.phare_id) is not None

    data["confirm_title"] = "Checkout slow"
    response = admin.post(url("incident_delete", incident), data, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == list_url(incident.project)
    assert sandbox.state.get_incident(incident.phare_id) is None
    listing = admin.get(list_url(incident.project)).content.decode()
    assert "Incident DEMO-1 deleted in Phare." in listing
    assert incident.get_absolute_url() not in listing


def test_without_javascript_a_deletion_redirects_to_the_list(client_for, incident, sandbox):
    data = {"submission_key": str(uuid.uuid4()), "confirm_title": " Checkout slow "}
    response = client_for("project_admin").post(url("incident_delete", incident), data)
    assert response.status_code == 302 and response["Location"] == list_url(incident.project)
    assert sandbox.state.get_incident(incident.phare_id) is None


def test_a_write_on_an_incident_deleted_in_phare_says_so(alice_client, incident, sandbox):
    sandbox.state.delete_incident(incident.phare_id)
    response = alice_client.post(url("incident_update_create", incident), update_data(), **HTMX)
    assert response.status_code == 409
    assert "no longer exists in Phare" in response.content.decode()
    incident.refresh_from_db()
    assert incident.deleted_in_phare_at is not None
    html = page_of(alice_client, incident)
    assert ">Post update</button>" not in html
    assert "This incident no longer exists in Phare" in html


# -- which incident -----------------------------------------------------------------------------


@pytest.mark.parametrize("incident_id", ["424242", "99999999999999999999", "0"])
def test_an_unknown_incident_is_404(alice_client, project, sandbox, incident_id):
    path = f"/projects/{project.slug}/incidents/{incident_id}/"
    assert alice_client.get(path).status_code == 404
    assert alice_client.post(path + "updates/", update_data()).status_code == 404
    assert sandbox.state.summary()["writes"] == []
    assert not PhareIncident.objects.exists()


def test_an_incident_not_yet_in_the_copy_is_read_once_and_shown(alice_client, project, sandbox):
    made = sandbox_incident(sandbox, title="Made in Phare's dashboard")
    sandbox.state.request_log.clear()
    path = f"/projects/{project.slug}/incidents/{made['id']}/"
    html = alice_client.get(path).content.decode()
    assert "Made in Phare&#x27;s dashboard" in html
    assert sandbox.state.request_log.count(f"GET /uptime/incidents/{made['id']}") == 1
    copy = PhareIncident.objects.get(phare_id=made["id"])
    assert copy.timeline_read_at is not None
    # Shown again from the copy, without asking Phare.
    alice_client.get(path)
    assert sandbox.state.request_log.count(f"GET /uptime/incidents/{made['id']}") == 1


def test_the_create_result_links_to_the_incident_page(alice_client, project, sandbox):
    create = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    response = alice_client.post(create, incident_form_data(title="API errors"), **FROM_THE_FORM)
    html = response.content.decode()
    attempt = IncidentAttempt.objects.get()
    link = re.search(r'<a class="button-link" href="([^"]+)">Open incident</a>', html)
    assert link is not None
    expected = f"/projects/{project.slug}/incidents/{attempt.phare_incident_id}/"
    assert link.group(1) == expected
    page = alice_client.get(expected)
    assert page.status_code == 200 and "API errors" in page.content.decode()


def test_the_list_shows_the_source_and_links_to_each_incident(
    alice_client, project, sandbox, incident
):
    sandbox.state.open_monitor_incident({"monitor_id": 3})
    alice_client.post(  # the Refresh button, without JavaScript
        reverse("incidents:incident_list_refresh_start", kwargs={"slug": project.slug})
    )
    html = alice_client.get(list_url(project)).content.decode()
    assert "Phare&#x27;s monitoring" in html
    for copy in PhareIncident.objects.all():
        assert f'href="{copy.get_absolute_url()}"' in html


def test_refresh_with_htmx_returns_the_freshness_line(alice_client, project, sandbox):
    sandbox_incident(sandbox, title="Fresh from Phare")
    response = alice_client.post(
        reverse("incidents:incident_list_refresh_start", kwargs={"slug": project.slug}), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<p class="muted freshness" id="list-freshness"')
    assert "the whole list" in html
    assert PhareIncident.objects.get().title == "Fresh from Phare"


def test_after_phares_422_on_an_update_the_corrected_form_is_sent(alice_client, incident, sandbox):
    sandbox.state.add_fault(
        route="create_incident_update",
        status=422,
        body='{"message": "Too short.", "errors": {"content": ["Too short."]}}',
    )
    rejected = alice_client.post(
        url("incident_update_create", incident), update_data(content="x"), **HTMX
    )
    assert rejected.status_code == 422
    corrected = form_values(rejected.content.decode(), url("incident_update_create", incident))
    corrected["content"] = ["The deploy was rolled back."]
    response = alice_client.post(url("incident_update_create", incident), corrected, **HTMX)
    assert response.status_code == 200, response.content.decode()[:1500]
    assert "Update posted." in response.content.decode()
    [update] = updates_in_phare(sandbox, incident.phare_id)
    assert update["content"] == "The deploy was rolled back."


def test_after_phares_422_on_the_resolved_update_the_corrected_form_recovers(
    alice_client, incident, sandbox
):
    sandbox.state.add_fault(
        route="create_incident_update",
        status=422,
        body='{"message": "Too short.", "errors": {"content": ["Too short."]}}',
    )
    data = {
        "submission_key": str(uuid.uuid4()),
        "update_submission_key": str(uuid.uuid4()),
        "message": "ok",
    }
    rejected = alice_client.post(url("incident_recover", incident), data, **HTMX)
    assert rejected.status_code == 422
    assert "Too short." in rejected.content.decode()
    assert sandbox.state.get_incident(incident.phare_id)["status"] == "ongoing"
    corrected = form_values(rejected.content.decode(), url("incident_recover", incident))
    corrected["message"] = ["Payments flow again."]
    response = alice_client.post(url("incident_recover", incident), corrected, **HTMX)
    assert response.status_code == 200, response.content.decode()[:1500]
    [update] = updates_in_phare(sandbox, incident.phare_id)
    assert update["content"] == "Payments flow again."
    assert sandbox.state.get_incident(incident.phare_id)["status"] == "recovered"


def test_after_a_refused_recovery_pressing_again_does_not_repost_the_update(
    alice_client, incident, sandbox
):
    sandbox.state.add_fault(
        route="recover_incident",
        status=422,
        body='{"message": "Recovery is not allowed yet.", "errors": {}}',
    )
    data = {
        "submission_key": str(uuid.uuid4()),
        "update_submission_key": str(uuid.uuid4()),
        "message": "Payments flow again.",
    }
    refused = alice_client.post(url("incident_recover", incident), data, **HTMX)
    assert refused.status_code == 422
    assert "Recovery is not allowed yet." in refused.content.decode()
    again = form_values(refused.content.decode(), url("incident_recover", incident))
    assert again["update_submission_key"] == [data["update_submission_key"]]
    assert again["submission_key"] != [data["submission_key"]]
    response = alice_client.post(url("incident_recover", incident), again, **HTMX)
    assert response.status_code == 200
    assert len(updates_in_phare(sandbox, incident.phare_id)) == 1
    assert len(writes_to(sandbox, "recover_incident")) == 2
    assert sandbox.state.get_incident(incident.phare_id)["status"] == "recovered"


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/St_Johns"])
def test_the_edit_form_round_trips_times_in_the_viewers_zone(alice_client, incident, sandbox, zone):
    alice_client.cookies["tz"] = zone
    data = edit_form(page_of(alice_client, incident), incident)
    assert data["timezone"] == [zone]
    data["title"] = ["Checkout down"]
    response = alice_client.post(url("incident_edit", incident), data, **HTMX)
    assert response.status_code == 200, response.content.decode()[:1500]
    [write] = writes_to(sandbox, "edit_incident")
    assert write["body"] == {"title": "Checkout down"}
