"""At-most-once writes to Phare: claim a submission key, wait for another request that holds
it, look in Phare for what an unanswered send may have done, and settle the attempt with its
audit entry."""

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents import audit_chain, permissions
from incidents.exceptions import ReconciliationFailed
from incidents.models import AuditEntry, IncidentAttempt, PhareProject
from incidents.permissions import Capability, User
from incidents.phare import (
    Incident,
    PhareClient,
    PhareError,
    PhareOutcomeUnknown,
    PhareValidationError,
    field_errors_from,
)


def earlier_attempt(submission_key: uuid.UUID, project: PhareProject) -> IncidentAttempt:
    attempt = IncidentAttempt.objects.select_related("project").get(submission_key=submission_key)
    if attempt.project_id != project.pk:
        raise PermissionDenied("That submission belongs to another project.")
    if attempt.state == IncidentAttempt.State.REJECTED:
        # A double submission of a rejected form: show the same errors again.
        answer = attempt.audit_entries.filter(
            action=AuditEntry.Action.INCIDENT_CREATE_FINISHED
        ).first()
        response_body = answer.response_body if answer else None
        raise PhareValidationError(
            attempt.error or "Phare rejected the incident.",
            field_errors=field_errors_from(response_body),
            body=response_body,
        )
    return attempt


RETRYABLE_STATES = (IncidentAttempt.State.FAILED, IncidentAttempt.State.UNKNOWN)


def claim_retry(attempt: IncidentAttempt, *, actor: User) -> str | None:
    """Take a failed, unknown or abandoned attempt back to "sending" for this request only (a
    conditional update: of two requests retrying at once, one wins, the other waits). Returns
    the state it had (an abandoned "sending" counts as unknown), or None when not claimed."""
    stale_before = timezone.now() - _sending_stale_after()
    claimable = Q(state__in=RETRYABLE_STATES) | Q(
        state=IncidentAttempt.State.SENDING, updated_at__lt=stale_before
    )
    claimed = IncidentAttempt.objects.filter(claimable, pk=attempt.pk).update(
        state=IncidentAttempt.State.SENDING, updated_at=timezone.now()
    )
    if not claimed:
        return None
    previous = attempt.state if attempt.state in RETRYABLE_STATES else IncidentAttempt.State.UNKNOWN
    attempt.refresh_from_db()
    if (signed_in := permissions.recorded_actor(actor)) is not None:
        attempt.actor = signed_in
    return previous


def _sending_stale_after() -> timedelta:
    """Longer than any send can take (connection retries, budget wait, Phare's timeout): an
    attempt still "sending" after this was abandoned by a process that died."""
    return timedelta(seconds=settings.PHARE_TIMEOUT + settings.PHARE_WRITE_MAX_WAIT + 30)


WAIT_POLL_S = 0.1


def wait_while_sending(attempt: IncidentAttempt) -> IncidentAttempt:
    """The attempt once it leaves "sending", or as it is after the longest possible send."""
    deadline = time.monotonic() + _sending_stale_after().total_seconds()
    while attempt.state == IncidentAttempt.State.SENDING and time.monotonic() < deadline:
        time.sleep(WAIT_POLL_S)
        attempt.refresh_from_db()
    return attempt


RECONCILE_CLOCK_SKEW = timedelta(minutes=2)


def reconcile(
    attempt: IncidentAttempt,
    *,
    previous: str,
    sent_body: dict,
    on_absent: IncidentAttempt.State | None,
) -> Incident | None:
    """Look in Phare for the incident an earlier send of `attempt` may have created. Found: the
    attempt is settled as created and the incident returned. Not found: None, the attempt left
    "sending" for the caller to send again, or settled as `on_absent`. Phare unreadable: the
    attempt goes back to its earlier state and ReconciliationFailed is raised."""
    started = time.monotonic()
    since = attempt.created_at - RECONCILE_CLOCK_SKEW
    try:
        candidates = PhareClient(attempt.project).list_incidents(since=since)
    except PhareError as error:
        failure = ReconciliationFailed(error)
        _settle_lookup(attempt, error=failure, state=previous, duration_ms=elapsed_ms(started))
        raise failure from None
    incident = next((i for i in candidates if _same_incident(i, sent_body)), None)
    if incident is not None:
        settle(attempt, incident=incident, duration_ms=elapsed_ms(started), lookup=True)
        return incident
    audit(
        attempt,
        AuditEntry.Action.INCIDENT_CREATE_RECONCILED,
        AuditEntry.Outcome.NOT_FOUND,
        duration_ms=elapsed_ms(started),
    )
    if on_absent is not None:
        attempt.state = on_absent
        attempt.error = "Phare has no such incident: it is safe to create it again."
        attempt.save(update_fields=["state", "error", "updated_at"])
    return None


def _same_incident(incident: Incident, sent_body: dict) -> bool:
    if incident.title.strip() != str(sent_body.get("title", "")).strip():
        return False
    if "monitors" in incident.raw or incident.monitors:
        return set(incident.monitors) == set(sent_body.get("monitors") or [])
    return True


def attempt_reconcile(*, actor: User | None, attempt: IncidentAttempt) -> Incident | None:
    """Settle an unknown attempt without sending anything: created when Phare has the incident,
    otherwise failed, so that pressing the button again is a safe new send."""
    if actor is not None:
        permissions.require(actor, attempt.project, Capability.RESPOND)
    claimed = IncidentAttempt.objects.filter(
        pk=attempt.pk, state=IncidentAttempt.State.UNKNOWN
    ).update(state=IncidentAttempt.State.SENDING, updated_at=timezone.now())
    if not claimed:
        return None
    attempt.refresh_from_db()
    return reconcile(
        attempt,
        previous=IncidentAttempt.State.UNKNOWN,
        sent_body=attempt.payload,
        on_absent=IncidentAttempt.State.FAILED,
    )


def elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _settle_lookup(
    attempt: IncidentAttempt, *, error: PhareError, state: str, duration_ms: int
) -> None:
    attempt.state = state
    attempt.error = error.message
    attempt.save(update_fields=["state", "error", "updated_at"])
    audit(
        attempt,
        AuditEntry.Action.INCIDENT_CREATE_RECONCILED,
        AuditEntry.Outcome(state),
        response_body=error.body,
        duration_ms=duration_ms,
    )


SETTLED_FIELDS = [
    "state",
    "http_status",
    "error",
    "finished_at",
    "found_in_phare",
    "phare_incident_id",
    "phare_incident_slug",
    "phare_incident_at",
    "actor",
    "updated_at",
]


def settle(
    attempt: IncidentAttempt,
    *,
    incident: Incident | None = None,
    error: PhareError | None = None,
    duration_ms: int,
    lookup: bool = False,
) -> None:
    status: int | None
    if incident is not None:
        state, status = IncidentAttempt.State.CREATED, 201
        attempt.found_in_phare = lookup
        attempt.phare_incident_id = incident.id
        attempt.phare_incident_slug = incident.slug
        attempt.phare_incident_at = incident.incident_at or incident.created_at
    elif isinstance(error, PhareValidationError):
        state, status = IncidentAttempt.State.REJECTED, 422
    elif isinstance(error, PhareOutcomeUnknown):
        state, status = IncidentAttempt.State.UNKNOWN, error.status
    else:
        state, status = IncidentAttempt.State.FAILED, error.status if error else None
    attempt.state = state
    attempt.http_status = status
    attempt.error = error.message if error else ""
    attempt.finished_at = timezone.now()
    # The attempt's new state and the audit entry saying so land together (and in one commit).
    with transaction.atomic():
        attempt.save(update_fields=SETTLED_FIELDS)
        audit(
            attempt,
            AuditEntry.Action.INCIDENT_CREATE_RECONCILED
            if lookup
            else AuditEntry.Action.INCIDENT_CREATE_FINISHED,
            AuditEntry.Outcome(state.value),
            response_body=incident.raw if incident else (error.body if error else None),
            duration_ms=duration_ms,
        )


def audit(
    attempt: IncidentAttempt,
    action: AuditEntry.Action,
    outcome: AuditEntry.Outcome,
    *,
    response_body=None,
    duration_ms: int | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=attempt.actor,
        actor_username=attempt.actor.get_username() if attempt.actor else "",
        project=attempt.project,
        attempt=attempt,
        action=action,
        outcome=outcome,
        title=attempt.title[:250],
        payload=attempt.payload,
        http_status=attempt.http_status,
        response_body=response_body,
        phare_incident_id=attempt.phare_incident_id,
        phare_incident_slug=attempt.phare_incident_slug,
        error=attempt.error,
        duration_ms=duration_ms,
    )
    return audit_chain.append(entry)
