"""Incident use cases: what a responder does to Phare's incidents, at most once and audited."""

import logging
import time
import uuid

from django.db import DatabaseError, IntegrityError, transaction

from incidents import duplicates, permissions
from incidents.exceptions import DuplicateSuspected, NotRecorded, SubmissionAlreadyHandled
from incidents.models import AuditEntry, IncidentAttempt, PhareProject
from incidents.permissions import Capability, User
from incidents.phare import IncidentPayload, PhareClient, PhareError, PhareOutcomeUnknown
from incidents.services.attempts import (
    audit,
    claim_retry,
    earlier_attempt,
    elapsed_ms,
    reconcile,
    settle,
    wait_while_sending,
)

logger = logging.getLogger(__name__)


def incident_create(
    *,
    actor: User,
    project: PhareProject,
    payload: IncidentPayload,
    submission_key: uuid.UUID,
    allow_duplicate: bool = False,
) -> IncidentAttempt:
    """Create an incident in Phare, at most once per submission key, auditing every step.

    A new key whose monitors already have an ongoing incident declared in the last few minutes
    raises DuplicateSuspected, unless `allow_duplicate` (the person confirmed).

    The first use of a key claims it (a unique constraint) and sends. The same key again:
    - while the first request is still sending (double click, a second tab or app server):
      waits for its result, then raises SubmissionAlreadyHandled;
    - after a 422: re-raises the same validation errors;
    - after a failure or an unknown outcome ("try again"): looks for the incident in Phare
      first, settles the attempt as created if it is there, and sends again only if not.
    Returns the created attempt; raises the PhareError of a failed call after recording it.
    """
    permissions.require(actor, project, Capability.RESPOND)
    body = payload.to_json()
    if (
        not allow_duplicate
        and not IncidentAttempt.objects.filter(submission_key=submission_key).exists()
    ):
        found = duplicates.possible_duplicates(
            project, payload.monitors, submission_key=submission_key
        )
        if found:
            raise DuplicateSuspected(found)
    try:
        with transaction.atomic():
            attempt = IncidentAttempt.objects.create(
                submission_key=submission_key,
                project=project,
                actor=permissions.recorded_actor(actor),
                payload=body,
            )
            audit(attempt, AuditEntry.Action.INCIDENT_CREATE_STARTED, AuditEntry.Outcome.PENDING)
    except IntegrityError:
        attempt = earlier_attempt(submission_key, project)
        previous = claim_retry(attempt, actor=actor)
        if previous is None:
            raise SubmissionAlreadyHandled(wait_while_sending(attempt)) from None
        incident = reconcile(attempt, previous=previous, sent_body=attempt.payload, on_absent=None)
        if incident is not None:
            return attempt
        attempt.payload = body
        attempt.sends += 1
        attempt.save(update_fields=["payload", "sends", "actor", "updated_at"])
        audit(attempt, AuditEntry.Action.INCIDENT_CREATE_STARTED, AuditEntry.Outcome.PENDING)
    return _send(attempt, payload)


def _send(attempt: IncidentAttempt, payload: IncidentPayload) -> IncidentAttempt:
    # No transaction is open here: the record of the attempt stays whatever Phare does.
    started = time.monotonic()
    try:
        incident = PhareClient(attempt.project).create_incident(payload)
    except PhareError as error:
        settle(attempt, error=error, duration_ms=elapsed_ms(started))
        raise
    except Exception:
        # Never leave an attempt "sending" forever: its key would stay blocked.
        unknown = PhareOutcomeUnknown(
            "The console failed while calling Phare. Check Phare's incident list before "
            "trying again."
        )
        settle(attempt, error=unknown, duration_ms=elapsed_ms(started))
        raise
    try:
        settle(attempt, incident=incident, duration_ms=elapsed_ms(started))
    except DatabaseError:
        logger.error("incident %s created but not recorded (database error)", incident.slug)
        raise NotRecorded(
            f"Phare created incident {incident.slug or incident.id}, but the console's database "
            "refused to record it (read-only or unreachable). It is in Phare; the audit log "
            "will show it once the database is back and the form is sent again."
        ) from None
    return attempt
