"""Use cases against the Phare sandbox over real HTTP: results and audit entries."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from incidents import services
from incidents.models import AuditEntry, IncidentAttempt
from incidents.phare import (
    IncidentPayload,
    PhareOutcomeUnknown,
    PhareUnavailable,
    PhareValidationError,
)

pytestmark = pytest.mark.django_db


def payload(**overrides) -> IncidentPayload:
    fields = {"impact": "partial_outage", "title": "Checkout slow", "exclude_from_downtime": False}
    return IncidentPayload(**(fields | overrides))


def create(alice, project, **overrides):
    return services.incident_create(
        actor=alice, project=project, payload=payload(**overrides), submission_key=uuid.uuid4()
    )


def entries_for(attempt):
    return list(attempt.audit_entries.order_by("id"))


def test_created_incident_is_recorded_before_and_after(alice, project, sandbox):
    attempt = create(alice, project, monitors=[1, 2])
    assert attempt.state == IncidentAttempt.State.CREATED
    assert attempt.phare_incident_slug == "DEMO-1"
    started, finished = entries_for(attempt)
    assert (started.action, started.outcome) == ("incident.create.started", "pending")
    assert (finished.action, finished.outcome) == ("incident.create.finished", "created")
    assert started.payload == finished.payload == sandbox.state.create_requests[0]
    assert finished.http_status == 201
    assert finished.phare_incident_id == attempt.phare_incident_id
    assert finished.response_body["slug"] == "DEMO-1"
    assert finished.actor_username == "alice"
    assert finished.duration_ms is not None


def test_422_is_recorded_as_rejected_with_phares_errors(alice, project, sandbox):
    sandbox.state.delete_monitor(2)
    with pytest.raises(PhareValidationError) as caught:
        create(alice, project, monitors=[1, 2])
    assert caught.value.field_errors == {"monitors.1": ["The selected monitors.1 is invalid."]}
    attempt = IncidentAttempt.objects.get()
    assert attempt.state == IncidentAttempt.State.REJECTED
    finished = entries_for(attempt)[-1]
    assert (finished.outcome, finished.http_status) == ("rejected", 422)
    assert finished.response_body["errors"] == caught.value.field_errors


def test_5xx_is_recorded_as_failed(alice, project, sandbox):
    sandbox.state.add_fault(route="create_incident", count=1, status=503)
    with pytest.raises(PhareUnavailable):
        create(alice, project)
    finished = AuditEntry.objects.get(action="incident.create.finished")
    assert (finished.outcome, finished.http_status) == ("failed", 503)
    assert "503" in finished.error


def test_timeout_is_recorded_as_unknown(alice, project, sandbox, settings):
    settings.PHARE_TIMEOUT = 0.2
    sandbox.state.add_fault(route="create_incident", count=1, status=201, delay_ms=1000)
    with pytest.raises(PhareOutcomeUnknown):
        create(alice, project)
    finished = AuditEntry.objects.get(action="incident.create.finished")
    assert finished.outcome == "unknown"
    assert "may have been created" in finished.error


def test_same_submission_key_never_calls_phare_twice(alice, project, sandbox):
    key = uuid.uuid4()
    first = services.incident_create(
        actor=alice, project=project, payload=payload(), submission_key=key
    )
    with pytest.raises(services.SubmissionAlreadyHandled) as caught:
        services.incident_create(
            actor=alice, project=project, payload=payload(), submission_key=key
        )
    assert caught.value.attempt == first
    assert len(sandbox.state.create_requests) == 1
    assert len(sandbox.state.incidents) == 1


def test_resubmitting_a_rejected_key_shows_the_same_errors_without_calling_phare(
    alice, project, sandbox
):
    key = uuid.uuid4()
    sandbox.state.delete_monitor(3)
    for _ in range(2):
        with pytest.raises(PhareValidationError) as caught:
            services.incident_create(
                actor=alice, project=project, payload=payload(monitors=[3]), submission_key=key
            )
        assert "monitors.0" in caught.value.field_errors
    assert len(sandbox.state.create_requests) == 1


def test_anonymous_user_cannot_create(project, sandbox):
    with pytest.raises(PermissionDenied):
        services.incident_create(
            actor=AnonymousUser(), project=project, payload=payload(), submission_key=uuid.uuid4()
        )
    assert sandbox.state.create_requests == []
    assert not AuditEntry.objects.filter(action__startswith="incident.").exists()


def test_monitor_sync_mirrors_adds_and_removes(project, sandbox):
    assert project.monitors.count() == 36
    assert project.monitors_synced_at is not None
    sandbox.state.delete_monitor(5)
    result = services.monitor_sync(actor=None, project=project)
    assert (result.total, result.added, result.removed) == (35, 0, 1)
    assert not project.monitors.filter(phare_id=5).exists()


def test_failed_sync_keeps_the_last_complete_list(project, sandbox):
    sandbox.state.add_fault(route="list_monitors", count=1, status=500)
    with pytest.raises(PhareUnavailable):
        services.monitor_sync(actor=None, project=project)
    assert project.monitors.count() == 36


def test_audit_entries_cannot_be_changed_or_deleted(alice, project, sandbox):
    attempt = create(alice, project)
    entry = entries_for(attempt)[0]
    entry.error = "edited"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).update(error="edited")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()


def test_provision_encrypts_the_token_and_keeps_only_the_last_four(db):
    project, created = services.project_provision(name="Shop EU", token="pha_secret_token_wxyz")
    assert created and project.slug == "shop-eu"
    assert project.token_last4 == "wxyz"
    assert "pha_secret" not in project.token_ciphertext
    again, created = services.project_provision(name="Shop EU", token="pha_other_token_0000")
    assert not created and again.pk == project.pk and again.token_last4 == "0000"


def test_provision_refuses_an_organization_token_without_a_project(db):
    with pytest.raises(ValueError, match="organization-scoped token needs"):
        services.project_provision(name="Org", token="pha_org_x", organization_key=True)


def test_a_retry_by_another_responder_keeps_the_first_body_and_records_its_own(
    alice, project_admin, project, sandbox
):
    key = uuid.uuid4()
    sandbox.state.add_fault(route="create_incident", count=1, status=503)
    with pytest.raises(PhareUnavailable):
        services.incident_create(
            actor=alice, project=project, payload=payload(title="Checkout slow"), submission_key=key
        )
    retried = services.incident_create(
        actor=project_admin,
        project=project,
        payload=payload(title="Checkout down in EU"),
        submission_key=key,
    )
    assert retried.state == IncidentAttempt.State.CREATED
    assert retried.payload["title"] == "Checkout slow"  # what alice sent first
    assert [body["title"] for body in retried.sent_payloads] == [
        "Checkout slow",
        "Checkout down in EU",
    ]
    assert retried.title == "Checkout down in EU"  # what Phare has
    started = retried.audit_entries.filter(action="incident.create.started").order_by("id")
    assert [(e.actor_username, e.payload["title"]) for e in started] == [
        ("alice", "Checkout slow"),
        (project_admin.username, "Checkout down in EU"),
    ]
    assert [body["title"] for body in sandbox.state.create_requests] == [
        "Checkout slow",
        "Checkout down in EU",
    ]


def test_a_retry_looks_in_phare_for_every_body_sent_under_its_key(
    alice, project_admin, project, sandbox, settings
):
    """The first body's request may land in Phare after a changed retry was sent: the next
    retry must find it rather than create the incident a second time."""
    key = uuid.uuid4()
    sandbox.state.add_fault(route="create_incident", count=1, action="drop")
    with pytest.raises(PhareOutcomeUnknown):
        services.incident_create(
            actor=alice, project=project, payload=payload(title="Checkout slow"), submission_key=key
        )
    sandbox.state.add_fault(route="create_incident", count=1, action="drop")
    with pytest.raises(PhareOutcomeUnknown):
        services.incident_create(
            actor=project_admin,
            project=project,
            payload=payload(title="Checkout down in EU"),
            submission_key=key,
        )
    late = sandbox.state.create_incident(payload(title="Checkout slow").to_json())  # alice's
    again = services.incident_create(
        actor=project_admin,
        project=project,
        payload=payload(title="Checkout down in EU"),
        submission_key=key,
    )
    assert (again.state, again.found_in_phare) == (IncidentAttempt.State.CREATED, True)
    assert again.phare_incident_id == late["id"]
    assert len(sandbox.state.incidents) == 1
