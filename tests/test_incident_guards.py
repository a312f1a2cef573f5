"""Guards found by review of the incident lifecycle: what a stale read, a reused key, a
hand-made form or a deleted incident must not do."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.incident_forms import IncidentEditForm, encode_base, values_of
from incidents.models import AuditEntry, IncidentAttempt, PhareIncident
from incidents.phare import IncidentUpdatePayload, PhareClient, PhareOutcomeUnknown
from incidents.services import attempts, incident_copy
from tests.helpers import HTMX, copied_incident, form_values, writes_to

pytestmark = pytest.mark.django_db


def edit_url(incident) -> str:
    return reverse(
        "incidents:incident_edit",
        kwargs={"slug": incident.project.slug, "incident_id": incident.phare_id},
    )


def test_an_edit_keeps_monitors_the_console_list_does_not_have(
    alice, alice_client, project, sandbox
):
    """A monitor Phare opened the incident on before the console's list was refreshed."""
    incident = copied_incident(project, sandbox, monitors=[1, 2])
    project.monitors.filter(phare_id=2).delete()
    page = alice_client.get(incident.get_absolute_url()).content.decode()
    data = form_values(page, edit_url(incident))
    assert data["monitors"] == ["1", "2"]  # the unknown one is a chip too
    data["impact"] = ["major_outage"]
    data["save"] = ["1"]
    response = alice_client.post(edit_url(incident), data, **HTMX)
    assert response.status_code == 200, response.content.decode()
    assert [w["body"] for w in writes_to(sandbox, "edit_incident")] == [{"impact": "major_outage"}]
    assert sandbox.state.get_incident(incident.phare_id)["monitors"] == [1, 2]


@pytest.mark.parametrize(
    "damage",
    [
        {"monitors": [1, "a"]},
        {"title": [1, "a"]},
        {"exclude_from_downtime": "yes"},
        {"incident_at": "2026-01-01T10:00:00"},  # no zone
        {"monitors": [2**64]},
    ],
)
def test_a_tampered_base_is_a_clear_error_not_a_500(alice, alice_client, project, sandbox, damage):
    incident = copied_incident(project, sandbox, monitors=[1])
    page = alice_client.get(incident.get_absolute_url()).content.decode()
    data = form_values(page, edit_url(incident))
    base = json.loads(data["base"][0])
    data["base"] = [json.dumps(base | damage)]
    data["title"] = ["Changed"]
    data["save"] = ["1"]
    response = alice_client.post(edit_url(incident), data, **HTMX)
    assert response.status_code == 422
    assert "The form is damaged; reload the page." in response.content.decode()
    assert writes_to(sandbox, "edit_incident") == []


def test_a_deeply_nested_base_is_refused(alice, project, sandbox):
    incident = copied_incident(project, sandbox)
    data = {"base": "[" * 5000 + "]" * 5000}
    form = IncidentEditForm(data, project=incident.project)
    assert not form.is_valid()
    assert "base" in form.errors


def test_a_key_used_on_one_incident_does_nothing_on_another(alice, project, sandbox):
    first = copied_incident(project, sandbox, title="First")
    second = copied_incident(project, sandbox, title="Second")
    key = uuid.uuid4()
    payload = IncidentUpdatePayload(state="identified", content="Found it.")
    services.incident_update_create(
        actor=alice, incident=first, payload=payload, submission_key=key
    )
    with pytest.raises(PermissionDenied):
        services.incident_update_create(
            actor=alice, incident=second, payload=payload, submission_key=key
        )
    assert [w["id"] for w in writes_to(sandbox, "create_incident_update")] == [first.phare_id]


def test_a_retry_that_lost_the_attempt_to_another_request_sends_nothing(
    alice, project, sandbox, monkeypatch
):
    """Two presses of one key after an unclear answer: the first one's look-up outlasts the
    "abandoned" delay, the second takes the attempt over and sends; the first sends nothing."""
    incident = copied_incident(project, sandbox)
    key = uuid.uuid4()
    payload = IncidentUpdatePayload(state="identified", content="Rolling back.")
    sandbox.state.add_fault(route="create_incident_update", action="drop")
    with pytest.raises(PhareOutcomeUnknown):
        services.incident_update_create(
            actor=alice, incident=incident, payload=payload, submission_key=key
        )
    attempt = IncidentAttempt.objects.get(submission_key=key)
    assert attempt.state == IncidentAttempt.State.UNKNOWN
    real_reconcile = attempts.reconcile

    def slow_reconcile(attempt, **kwargs):
        found = real_reconcile(attempt, **kwargs)
        # Meanwhile another request took the attempt over, sent it and settled it.
        IncidentAttempt.objects.filter(pk=attempt.pk).update(
            sends=attempt.sends + 1, state=IncidentAttempt.State.DONE
        )
        return found

    monkeypatch.setattr(attempts, "reconcile", slow_reconcile)
    with pytest.raises(services.SubmissionAlreadyHandled):
        services.incident_update_create(
            actor=alice, incident=incident, payload=payload, submission_key=key
        )
    assert writes_to(sandbox, "create_incident_update") == [
        {"route": "create_incident_update", "id": incident.phare_id, "body": payload.to_json()}
    ]  # the dropped first try only


def test_a_read_older_than_the_consoles_own_edit_is_dropped(alice, project, sandbox):
    """A background read that started before the console's edit and lands after it must not
    put the old values back, nor blame Phare for the console's change."""
    incident = copied_incident(project, sandbox, impact="partial_outage")
    before_edit = PhareClient(project).get_incident(incident.phare_id)
    read_started = timezone.now()
    base = values_of(incident)
    services.incident_edit(
        actor=alice,
        incident=incident,
        values=base | {"impact": "major_outage"},
        base=base,
        submission_key=uuid.uuid4(),
    )
    incident_copy.store_incident(project, before_edit, read_started=read_started)
    incident.refresh_from_db()
    assert incident.impact == "major_outage"
    assert incident.changed_outside_at is None
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.INCIDENT_CHANGED_OUTSIDE)


def test_a_timeline_read_before_a_post_keeps_the_posted_update(alice, project, sandbox):
    incident = copied_incident(project, sandbox)
    updates_before = PhareClient(project).list_incident_updates(incident.phare_id)
    services.incident_update_create(
        actor=alice,
        incident=incident,
        payload=IncidentUpdatePayload(state="identified", content="Found it."),
        submission_key=uuid.uuid4(),
    )
    incident_copy.store_timeline(incident, updates_before)
    posted = incident.updates.get()
    assert (posted.content, posted.author) == ("Found it.", "alice")


def test_a_deleted_incident_is_not_read_again_on_every_poll(
    alice_client, project, sandbox, settings
):
    settings.INCIDENT_DETAIL_REFRESH_SECONDS = 0
    incident = copied_incident(project, sandbox)
    sandbox.state.delete_incident(incident.phare_id)
    live = incident.get_absolute_url() + "?live=1"
    for _ in range(5):
        alice_client.get(live, **HTMX)
    reads = [
        line
        for line in sandbox.state.request_log
        if line == f"GET /uptime/incidents/{incident.phare_id}"
    ]
    assert len(reads) == 2  # the copy's first read, then the poll that found it deleted
    assert "no longer exists in Phare" in alice_client.get(live, **HTMX).content.decode()


def test_after_a_failed_refresh_polls_wait_before_trying_again(
    alice_client, project, sandbox, settings
):
    settings.INCIDENT_DETAIL_REFRESH_SECONDS = 30
    incident = copied_incident(project, sandbox)
    PhareIncident.objects.filter(pk=incident.pk).update(
        read_at=timezone.now() - timedelta(minutes=5)
    )
    sandbox.state.add_fault(route="get_incident", status=503, count=10)
    live = incident.get_absolute_url() + "?live=1"
    for _ in range(5):
        assert alice_client.get(live, **HTMX).status_code == 200
    reads = [
        line
        for line in sandbox.state.request_log
        if line == f"GET /uptime/incidents/{incident.phare_id}"
    ]
    assert len(reads) == 2  # the copy's first read, then one failed refresh


def test_refresh_pressed_again_within_a_minute_reads_nothing(alice, project, sandbox):
    assert incident_copy.incident_list_refresh_start(actor=alice, project=project) is True
    project.refresh_from_db()
    calls = len(sandbox.state.request_log)
    assert incident_copy.incident_list_refresh_start(actor=alice, project=project) is False
    assert len(sandbox.state.request_log) == calls


def test_an_incident_of_another_phare_project_is_not_shown(alice_client, project, sandbox):
    project.phare_project_id = 99
    project.save()
    made = sandbox.state.create_incident(
        {"title": "Elsewhere", "impact": "unknown", "exclude_from_downtime": False}
    )  # the sandbox's project is 1
    url = reverse(
        "incidents:incident_detail", kwargs={"slug": project.slug, "incident_id": made["id"]}
    )
    assert alice_client.get(url).status_code == 404
    assert not PhareIncident.objects.filter(phare_id=made["id"], deleted_in_phare_at=None)


def test_the_base_round_trips_the_values_it_was_made_from(project, sandbox):
    incident = copied_incident(project, sandbox, monitors=[3, 1])
    form = IncidentEditForm.for_incident(incident)
    assert json.loads(form.initial["base"]) == json.loads(encode_base(values_of(incident)))
