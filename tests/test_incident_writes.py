"""Post an update, edit, mark recovered and delete, against the Phare sandbox over real HTTP:
what Phare ends up with, the attempt's state, the audit entries before and after, every way
the call can fail, and never a second write after an unclear answer."""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connections

from incidents import services
from incidents.incident_forms import values_of
from incidents.models import AuditEntry, IncidentAttempt, PhareIncident
from incidents.phare import (
    IncidentUpdatePayload,
    PhareAuthError,
    PhareNotFound,
    PhareOutcomeUnknown,
    PhareUnavailable,
    PhareValidationError,
)
from incidents.services import incident_copy
from tests.helpers import copied_incident, updates_in_phare, writes_to

pytestmark = pytest.mark.django_db

UPDATE = IncidentUpdatePayload(state="identified", content="Cause found: a bad deploy.")
NEW_TITLE = "Checkout down in every region"


def post_update(actor, incident, key):
    return services.incident_update_create(
        actor=actor, incident=incident, payload=UPDATE, submission_key=key
    )


def edit_title(actor, incident, key):
    base = values_of(incident)
    return services.incident_edit(
        actor=actor,
        incident=incident,
        values=base | {"title": NEW_TITLE},
        base=base,
        submission_key=key,
    )


def recover(actor, incident, key):
    return services.incident_recover(actor=actor, incident=incident, submission_key=key)


def delete(actor, incident, key):
    return services.incident_delete(actor=actor, incident=incident, submission_key=key)


@dataclass(frozen=True)
class Op:
    call: Callable
    route: str  # the sandbox's route of the write
    started: str
    finished: str
    reconciled: str
    body: dict  # what the attempt and the audit log record as sent
    sent: object  # what the sandbox received


OPS = {
    "update": Op(
        post_update,
        "create_incident_update",
        "incident.update_post.started",
        "incident.update_posted",
        "incident.update_post.reconciled",
        UPDATE.to_json(),
        UPDATE.to_json(),
    ),
    "edit": Op(
        edit_title,
        "edit_incident",
        "incident.edit.started",
        "incident.edited",
        "incident.edit.reconciled",
        {"title": NEW_TITLE},
        {"title": NEW_TITLE},
    ),
    "recover": Op(
        recover,
        "recover_incident",
        "incident.recover.started",
        "incident.recovered",
        "incident.recover.reconciled",
        {},
        None,
    ),
    "delete": Op(
        delete,
        "delete_incident",
        "incident.delete.started",
        "incident.deleted",
        "incident.delete.reconciled",
        {},
        None,
    ),
}


@pytest.fixture
def incident(project, sandbox) -> PhareIncident:
    """An ongoing incident made in Phare, in the console's copy with its (empty) timeline."""
    return copied_incident(project, sandbox, monitors=[1])


@pytest.fixture
def actor(project_admin):
    """dave, a project admin: the one persona who may do all four (delete needs an admin)."""
    return project_admin


def audit_trail(attempt) -> list[tuple[str, str]]:
    return list(attempt.audit_entries.order_by("id").values_list("action", "outcome"))


def assert_done_in_phare(name: str, sandbox, incident: PhareIncident) -> None:
    """Phare shows the write done exactly once, and the copy knows it."""
    in_phare = sandbox.state.get_incident(incident.phare_id)
    incident.refresh_from_db()
    if name == "update":
        [update] = updates_in_phare(sandbox, incident.phare_id)
        assert (update["state"], update["content"]) == ("identified", UPDATE.content)
        assert in_phare["state"] == "identified"
        [copied] = incident.updates.all()
        assert copied.phare_id == update["id"] and copied.posted_by is not None
        assert incident.state == "identified"
    elif name == "edit":
        assert in_phare["title"] == NEW_TITLE
        assert in_phare["impact"] == "partial_outage"  # only what changed was sent
        assert incident.title == NEW_TITLE
    elif name == "recover":
        assert in_phare["status"] == "recovered" and in_phare["recovery_at"]
        assert incident.status == "recovered" and incident.recovery_at is not None
    else:
        assert in_phare is None
        assert incident.deleted_in_phare_at is not None


# -- success ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPS))
def test_success_changes_phare_and_is_audited_before_and_after(name, actor, incident, sandbox):
    op = OPS[name]
    attempt = op.call(actor, incident, uuid.uuid4())

    assert attempt.state == IncidentAttempt.State.DONE
    assert_done_in_phare(name, sandbox, incident)
    [write] = writes_to(sandbox, op.route)
    assert (write["id"], write["body"]) == (incident.phare_id, op.sent)
    started, finished = attempt.audit_entries.order_by("id")
    assert (started.action, started.outcome) == (op.started, "pending")
    assert (finished.action, finished.outcome) == (op.finished, "done")
    assert started.payload == finished.payload == op.body
    for entry in (started, finished):
        assert entry.phare_incident_id == incident.phare_id
        assert entry.actor_username == "dave"
        assert entry.title  # the incident's title when the body has none
    if name == "update":
        [update] = updates_in_phare(sandbox, incident.phare_id)
        assert finished.response_body == update
        assert finished.http_status == 201
    elif name == "edit":
        assert finished.response_body == sandbox.state.get_incident(incident.phare_id)
        assert finished.http_status == 200
    else:
        assert finished.response_body is None  # Phare answers 204 without a body
        assert finished.http_status == 204
    assert finished.duration_ms is not None


def test_edit_sends_only_the_fields_that_differ_from_the_base(actor, incident, sandbox):
    base = values_of(incident)
    values = base | {"impact": "major_outage", "monitors": [2, 1]}
    services.incident_edit(
        actor=actor, incident=incident, values=values, base=base, submission_key=uuid.uuid4()
    )
    [write] = writes_to(sandbox, "edit_incident")
    assert write["body"] == {"impact": "major_outage", "monitors": [2, 1]}


def test_edit_with_nothing_changed_sends_nothing(actor, incident, sandbox):
    base = values_of(incident)
    with pytest.raises(services.NothingToChange):
        services.incident_edit(
            actor=actor,
            incident=incident,
            values=base | {"monitors": list(reversed(base["monitors"]))},
            base=base,
            submission_key=uuid.uuid4(),
        )
    assert writes_to(sandbox, "edit_incident") == []
    assert not IncidentAttempt.objects.exists()


def test_a_viewer_cannot_write_and_a_responder_cannot_delete(incident, sandbox, viewer, responder):
    from django.core.exceptions import PermissionDenied

    for name in ("update", "edit", "recover", "delete"):
        with pytest.raises(PermissionDenied):
            OPS[name].call(viewer, incident, uuid.uuid4())
    with pytest.raises(PermissionDenied):
        delete(responder, incident, uuid.uuid4())
    assert sandbox.state.summary()["writes"] == []
    assert not AuditEntry.objects.filter(action__startswith="incident.").exists()


# -- Phare says no ----------------------------------------------------------------------------


def test_422_update_with_an_invalid_state_is_rejected(actor, incident, sandbox):
    bad = IncidentUpdatePayload(state="exploded", content="Bypassing the form's choices.")
    with pytest.raises(PhareValidationError) as caught:
        services.incident_update_create(
            actor=actor, incident=incident, payload=bad, submission_key=uuid.uuid4()
        )
    assert caught.value.field_errors == {"state": ["The selected state is invalid."]}
    attempt = IncidentAttempt.objects.get()
    assert attempt.state == IncidentAttempt.State.REJECTED
    assert audit_trail(attempt) == [
        ("incident.update_post.started", "pending"),
        ("incident.update_posted", "rejected"),
    ]
    assert updates_in_phare(sandbox, incident.phare_id) == []


def test_422_edit_with_an_unknown_monitor_is_rejected(actor, incident, sandbox):
    base = values_of(incident)
    with pytest.raises(PhareValidationError) as caught:
        services.incident_edit(
            actor=actor,
            incident=incident,
            values=base | {"monitors": [1, 999]},
            base=base,
            submission_key=uuid.uuid4(),
        )
    assert caught.value.field_errors == {"monitors.1": ["The selected monitors.1 is invalid."]}
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.http_status) == ("rejected", 422)
    finished = attempt.audit_entries.get(action="incident.edited")
    assert finished.outcome == "rejected"
    assert finished.response_body["errors"] == caught.value.field_errors
    assert sandbox.state.get_incident(incident.phare_id)["monitors"] == [1]


def test_422_recovering_an_already_recovered_incident_is_rejected(actor, project, sandbox):
    recovered = copied_incident(
        project,
        sandbox,
        incident_at="2026-03-01T10:00:00Z",
        recovery_at="2026-03-01T11:00:00Z",
    )
    with pytest.raises(PhareValidationError) as caught:
        recover(actor, recovered, uuid.uuid4())
    assert caught.value.message == "The incident is already recovered."
    attempt = IncidentAttempt.objects.get()
    assert attempt.state == IncidentAttempt.State.REJECTED
    assert audit_trail(attempt)[-1] == ("incident.recovered", "rejected")


def test_422_on_delete_is_rejected(actor, incident, sandbox):
    sandbox.state.add_fault(
        route="delete_incident",
        status=422,
        body='{"message": "Incidents with a postmortem cannot be deleted.", "errors": {}}',
    )
    with pytest.raises(PhareValidationError):
        delete(actor, incident, uuid.uuid4())
    assert IncidentAttempt.objects.get().state == IncidentAttempt.State.REJECTED
    assert sandbox.state.get_incident(incident.phare_id) is not None


def test_the_same_key_after_a_422_shows_the_same_errors_without_sending(actor, incident, sandbox):
    key = uuid.uuid4()
    bad = IncidentUpdatePayload(state="exploded", content="Twice.")
    for _ in range(2):
        with pytest.raises(PhareValidationError) as caught:
            services.incident_update_create(
                actor=actor, incident=incident, payload=bad, submission_key=key
            )
        assert "state" in caught.value.field_errors
    assert len(writes_to(sandbox, "create_incident_update")) == 1


@pytest.mark.parametrize("name", ["update", "recover", "delete"])
def test_401_a_rejected_token_fails_the_attempt(name, actor, incident, project, sandbox):
    services.project_set_token(actor=actor, project=project, token="pha_unknown_token_9")
    incident.project.refresh_from_db()
    with pytest.raises(PhareAuthError) as caught:
        OPS[name].call(actor, incident, uuid.uuid4())
    assert caught.value.status == 401
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.http_status) == ("failed", 401)
    assert audit_trail(attempt)[-1] == (OPS[name].finished, "failed")
    assert sandbox.state.summary()["writes"] == []


def test_401_on_edit_fails_on_the_read_before_anything_is_sent(actor, incident, project, sandbox):
    services.project_set_token(actor=actor, project=project, token="pha_unknown_token_9")
    incident.project.refresh_from_db()
    with pytest.raises(PhareAuthError):
        edit_title(actor, incident, uuid.uuid4())
    assert not IncidentAttempt.objects.exists()
    assert sandbox.state.summary()["writes"] == []


@pytest.mark.parametrize("name", list(OPS))
def test_403_a_read_only_token_fails_the_attempt(name, actor, incident, project, sandbox):
    sandbox.state.add_token("pha_read_only_token_1", read_only=True)
    services.project_set_token(actor=actor, project=project, token="pha_read_only_token_1")
    incident.project.refresh_from_db()
    with pytest.raises(PhareAuthError) as caught:
        OPS[name].call(actor, incident, uuid.uuid4())
    assert caught.value.status == 403
    assert "uptime:write" in caught.value.message
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.http_status) == ("failed", 403)
    assert sandbox.state.summary()["writes"] == []  # refused before Phare did anything
    assert sandbox.state.get_incident(incident.phare_id)["title"] == incident.title


@pytest.mark.parametrize("name", ["update", "recover", "delete"])
def test_404_the_incident_deleted_in_phare_meanwhile(name, actor, incident, sandbox):
    sandbox.state.delete_incident(incident.phare_id)
    with pytest.raises(PhareNotFound) as caught:
        OPS[name].call(actor, incident, uuid.uuid4())
    assert "no longer exists in Phare" in caught.value.message
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.http_status) == ("failed", 404)
    assert len(writes_to(sandbox, OPS[name].route)) == 1


def test_404_on_edit_is_found_by_the_read_before_sending(actor, incident, sandbox):
    sandbox.state.delete_incident(incident.phare_id)
    with pytest.raises(PhareNotFound):
        edit_title(actor, incident, uuid.uuid4())
    assert writes_to(sandbox, "edit_incident") == []


@pytest.mark.parametrize("name", list(OPS))
def test_5xx_is_unavailable_and_the_attempt_failed(name, actor, incident, sandbox):
    sandbox.state.add_fault(route=OPS[name].route, status=500)
    with pytest.raises(PhareUnavailable):
        OPS[name].call(actor, incident, uuid.uuid4())
    attempt = IncidentAttempt.objects.get()
    assert (attempt.state, attempt.http_status) == ("failed", 500)
    assert audit_trail(attempt) == [(OPS[name].started, "pending"), (OPS[name].finished, "failed")]
    incident.refresh_from_db()
    assert incident.deleted_in_phare_at is None
    assert sandbox.state.get_incident(incident.phare_id)["status"] == "ongoing"


# -- unclear answers and pressing again ---------------------------------------------------------


@pytest.mark.parametrize("name", list(OPS))
def test_done_but_unanswered_then_the_same_key_finds_it_and_sends_nothing(
    name, actor, incident, sandbox
):
    op = OPS[name]
    key = uuid.uuid4()
    sandbox.state.add_fault(route=op.route, action="process_then_drop")
    with pytest.raises(PhareOutcomeUnknown):
        op.call(actor, incident, key)
    attempt = IncidentAttempt.objects.get()
    assert attempt.state == IncidentAttempt.State.UNKNOWN

    again = op.call(actor, incident, key)

    assert again.pk == attempt.pk
    assert (again.state, again.found_in_phare, again.sends) == ("done", True, 1)
    assert len(writes_to(sandbox, op.route)) == 1
    assert_done_in_phare(name, sandbox, incident)
    assert audit_trail(again) == [
        (op.started, "pending"),
        (op.finished, "unknown"),
        (op.reconciled, "done"),
    ]


@pytest.mark.parametrize("name", list(OPS))
def test_dropped_before_phare_did_it_then_the_same_key_sends_once(name, actor, incident, sandbox):
    op = OPS[name]
    key = uuid.uuid4()
    sandbox.state.add_fault(route=op.route, action="drop")
    with pytest.raises(PhareOutcomeUnknown):
        op.call(actor, incident, key)
    assert len(writes_to(sandbox, op.route)) == 1  # it reached the sandbox, which did nothing

    again = op.call(actor, incident, key)

    assert (again.state, again.found_in_phare, again.sends) == ("done", False, 2)
    assert len(writes_to(sandbox, op.route)) == 2
    assert_done_in_phare(name, sandbox, incident)
    assert audit_trail(again) == [
        (op.started, "pending"),
        (op.finished, "unknown"),
        (op.reconciled, "not_found"),
        (op.started, "pending"),
        (op.finished, "done"),
    ]


def test_the_same_key_after_a_done_update_sends_nothing(actor, incident, sandbox):
    key = uuid.uuid4()
    first = post_update(actor, incident, key)
    with pytest.raises(services.SubmissionAlreadyHandled) as caught:
        post_update(actor, incident, key)
    assert caught.value.attempt == first
    assert len(writes_to(sandbox, "create_incident_update")) == 1
    assert len(updates_in_phare(sandbox, incident.phare_id)) == 1


def test_a_key_of_another_action_is_refused(actor, incident, sandbox):
    from django.core.exceptions import PermissionDenied

    key = uuid.uuid4()
    post_update(actor, incident, key)
    with pytest.raises(PermissionDenied):
        recover(actor, incident, key)
    assert writes_to(sandbox, "recover_incident") == []


@pytest.mark.django_db(transaction=True)
def test_two_submissions_of_one_update_at_once_post_it_once(actor, incident, sandbox):
    sandbox.state.latency_ms = 300  # the second arrives while the first is sending
    key = uuid.uuid4()
    results: list = [None, None]
    start = threading.Barrier(2)

    def submit(index: int) -> None:
        start.wait()
        try:
            results[index] = post_update(actor, incident, key)
        except services.SubmissionAlreadyHandled as already:
            results[index] = already
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(writes_to(sandbox, "create_incident_update")) == 1
    assert len(updates_in_phare(sandbox, incident.phare_id)) == 1
    attempts = [r for r in results if isinstance(r, IncidentAttempt)]
    waited = [r for r in results if isinstance(r, services.SubmissionAlreadyHandled)]
    assert (len(attempts), len(waited)) == (1, 1)
    assert waited[0].attempt.state == IncidentAttempt.State.DONE
    assert IncidentAttempt.objects.get().state == IncidentAttempt.State.DONE


# -- an edit on a stale form ------------------------------------------------------------------


def test_an_edit_on_a_stale_base_is_a_conflict_and_sends_nothing(actor, incident, sandbox):
    base = values_of(incident)  # the form as rendered from the copy
    sandbox.state.edit_incident(incident.phare_id, {"impact": "major_outage"}, control=True)

    with pytest.raises(services.EditConflict) as caught:
        services.incident_edit(
            actor=actor,
            incident=incident,
            values=base | {"title": NEW_TITLE},
            base=base,
            submission_key=uuid.uuid4(),
        )

    [change] = caught.value.changes
    assert (change.field, change.before, change.after) == (
        "impact",
        "partial_outage",
        "major_outage",
    )
    assert (change.before_text, change.after_text) == ("partial outage", "major outage")
    assert caught.value.current.impact == "major_outage"
    assert writes_to(sandbox, "edit_incident") == []
    assert not IncidentAttempt.objects.exists()
    # The copy now shows what Phare has, as a change made outside the console.
    incident.refresh_from_db()
    assert incident.impact == "major_outage"
    assert incident.changed_outside_summary == "impact partial outage → major outage"


def test_an_edit_on_the_current_base_applies_on_top_of_the_outside_change(actor, incident, sandbox):
    sandbox.state.edit_incident(incident.phare_id, {"impact": "major_outage"}, control=True)
    current = incident_copy.incident_refresh(incident.project, incident.phare_id)
    base = values_of(current)
    services.incident_edit(
        actor=actor,
        incident=current,
        values=base | {"title": NEW_TITLE},
        base=base,
        submission_key=uuid.uuid4(),
    )
    in_phare = sandbox.state.get_incident(incident.phare_id)
    assert (in_phare["impact"], in_phare["title"]) == ("major_outage", NEW_TITLE)
    [write] = writes_to(sandbox, "edit_incident")
    assert write["body"] == {"title": NEW_TITLE}
