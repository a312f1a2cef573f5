"""At-most-once writes to Phare: claim a submission key, wait for another request that holds
it, look in Phare for what an unanswered send may have done, and settle the attempt with its
audit entry. `write_once` is the whole path for any write; creates add their duplicate check.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from incidents import audit_chain, permissions, row_sql
from incidents.exceptions import NotRecorded, ReconciliationFailed, SubmissionAlreadyHandled
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

logger = logging.getLogger(__name__)


class AuditActions(NamedTuple):
    started: AuditEntry.Action
    finished: AuditEntry.Action
    reconciled: AuditEntry.Action


Kind = IncidentAttempt.Kind
ACTIONS = {
    Kind.CREATE: AuditActions(
        AuditEntry.Action.INCIDENT_CREATE_STARTED,
        AuditEntry.Action.INCIDENT_CREATE_FINISHED,
        AuditEntry.Action.INCIDENT_CREATE_RECONCILED,
    ),
    Kind.EDIT: AuditActions(
        AuditEntry.Action.INCIDENT_EDIT_STARTED,
        AuditEntry.Action.INCIDENT_EDITED,
        AuditEntry.Action.INCIDENT_EDIT_RECONCILED,
    ),
    Kind.UPDATE_CREATE: AuditActions(
        AuditEntry.Action.INCIDENT_UPDATE_STARTED,
        AuditEntry.Action.INCIDENT_UPDATE_POSTED,
        AuditEntry.Action.INCIDENT_UPDATE_RECONCILED,
    ),
    Kind.RECOVER: AuditActions(
        AuditEntry.Action.INCIDENT_RECOVER_STARTED,
        AuditEntry.Action.INCIDENT_RECOVERED,
        AuditEntry.Action.INCIDENT_RECOVER_RECONCILED,
    ),
    Kind.DELETE: AuditActions(
        AuditEntry.Action.INCIDENT_DELETE_STARTED,
        AuditEntry.Action.INCIDENT_DELETED,
        AuditEntry.Action.INCIDENT_DELETE_RECONCILED,
    ),
}


@dataclass(frozen=True)
class Done:
    """Phare's answer to a write that is not a create: its body (None when it sends none, as
    after a recovery) and status."""

    body: Any = None
    status: int = 200
    value: Any = None  # the parsed answer (an IncidentUpdate), for the copy


# What a send or a look-up found: the created incident for a create, Done for the others.
Answer = Incident | Done


@dataclass(frozen=True)
class Write:
    """One write to Phare, for `write_once`."""

    kind: IncidentAttempt.Kind
    body: dict[str, Any]  # exactly what is sent, kept on the attempt and in the audit log
    send: Callable[[PhareClient], Answer]
    # After a send with no clear answer: what Phare shows of the earlier attempt's write (the
    # attempt carries what was sent then), or None when Phare shows it was not done.
    look_up: Callable[[PhareClient, IncidentAttempt], Answer | None]
    incident_id: int | None = None
    incident_title: str = ""
    # Once Phare has done it (sent, or found by a look-up): bring the console's copy up to date.
    # A failure here is logged; the write itself stands.
    on_done: Callable[[IncidentAttempt, Answer], None] | None = None
    # The incident template the form was filled from (a create), recorded with the attempt.
    template_name: str = ""


def write_once(
    *, actor: User, project: PhareProject, submission_key: uuid.UUID, write: Write
) -> IncidentAttempt:
    """Send `write` to Phare at most once per submission key, auditing every step.

    The first use of a key claims it (a unique constraint) and sends. The same key again:
    - while the first request is still sending (double click, a second tab or app server):
      waits for its result, then raises SubmissionAlreadyHandled;
    - after a 422: re-raises the same validation errors;
    - after a failure or an unknown outcome ("try again"): looks in Phare first, settles the
      attempt as done if the write is there, and sends again only if not.
    Returns the settled attempt; raises the PhareError of a failed call after recording it.
    The caller checks the actor's permission first.
    """
    try:
        with transaction.atomic():
            attempt = IncidentAttempt(
                submission_key=submission_key,
                kind=write.kind,
                project=project,
                actor=permissions.recorded_actor(actor),
                payload=write.body,
                phare_incident_id=write.incident_id,
                incident_title=write.incident_title[:250],
                template_name=write.template_name,
            )
            row_sql.insert(attempt)
            audit(attempt, ACTIONS[write.kind].started, AuditEntry.Outcome.PENDING)
    except IntegrityError:
        attempt = earlier_attempt(
            submission_key, project, kind=write.kind, incident_id=write.incident_id
        )
        previous = claim_retry(attempt, actor=actor)
        if previous is None:
            raise SubmissionAlreadyHandled(wait_while_sending(attempt)) from None
        found = reconcile(
            attempt,
            previous=previous,
            look_up=lambda client: write.look_up(client, attempt),
            on_absent=None,
        )
        if found is not None:
            _after_done(attempt, found, write)
            return attempt
        # The first body stays on the attempt; a changed one (another responder edited the form)
        # is added, so that a later look-up searches Phare for every body ever sent.
        resent_payloads = attempt.resent_payloads
        if write.body != attempt.last_payload:
            resent_payloads = [*resent_payloads, write.body]
        # Fenced on the count of sends: a second request that took the attempt over meanwhile
        # (this one's look-up outlasted the "abandoned" delay) sends nothing.
        resent = IncidentAttempt.objects.filter(pk=attempt.pk, sends=attempt.sends).update(
            resent_payloads=resent_payloads,
            sends=attempt.sends + 1,
            actor=attempt.actor,
            updated_at=timezone.now(),
        )
        if not resent:
            attempt.refresh_from_db()
            raise SubmissionAlreadyHandled(wait_while_sending(attempt)) from None
        attempt.refresh_from_db()
        audit(attempt, ACTIONS[write.kind].started, AuditEntry.Outcome.PENDING)
    return _send(attempt, write)


def _send(attempt: IncidentAttempt, write: Write) -> IncidentAttempt:
    # No transaction is open here: the record of the attempt stays whatever Phare does.
    started = time.monotonic()
    try:
        answer = write.send(PhareClient(attempt.project))
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
        settle(attempt, answer=answer, duration_ms=elapsed_ms(started))
    except DatabaseError:
        if isinstance(answer, Incident):
            logger.error("incident %s created but not recorded (database error)", answer.slug)
            raise NotRecorded(
                f"Phare created incident {answer.slug or answer.id}, but the console's "
                "database refused to record it (read-only or unreachable). It is in Phare; the "
                "audit log will show it once the database is back and the form is sent again."
            ) from None
        logger.error("%s of incident %s not recorded", attempt.kind, attempt.phare_incident_id)
        raise NotRecorded(
            "Phare accepted the change, but the console's database refused to record it "
            "(read-only or unreachable). It is in Phare; the audit log will show it once the "
            "database is back and the form is sent again."
        ) from None
    _after_done(attempt, answer, write)
    return attempt


def _after_done(attempt: IncidentAttempt, answer: Answer, write: Write) -> None:
    if write.on_done is None:
        return
    try:
        write.on_done(attempt, answer)
    except Exception:
        # The copy catches up at its next refresh; the person must still see the write done.
        logger.exception("the copy of incident %s was not updated", attempt.phare_incident_id)


def earlier_attempt(
    submission_key: uuid.UUID,
    project: PhareProject,
    *,
    kind: IncidentAttempt.Kind,
    incident_id: int | None = None,
) -> IncidentAttempt:
    attempt = IncidentAttempt.objects.select_related("project").get(submission_key=submission_key)
    if (
        attempt.project_id != project.pk
        or attempt.kind != kind
        or (incident_id is not None and attempt.phare_incident_id != incident_id)
    ):
        raise PermissionDenied("That submission belongs to another project, incident or action.")
    if attempt.state == IncidentAttempt.State.REJECTED:
        # A double submission of a rejected form: show the same errors again.
        answer = attempt.audit_entries.filter(action=ACTIONS[kind].finished).first()
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
    look_up: Callable[[PhareClient], Answer | None],
    on_absent: IncidentAttempt.State | None,
    absent_note: str = "",
) -> Answer | None:
    """Look in Phare for what an earlier send of `attempt` may have done. Found: the attempt is
    settled as done (created) and the answer returned. Not found: None, the attempt left
    "sending" for the caller to send again, or settled as `on_absent` with `absent_note`.
    Phare unreadable: the attempt goes back to its earlier state and ReconciliationFailed is
    raised."""
    started = time.monotonic()
    try:
        found = look_up(PhareClient(attempt.project))
    except PhareError as error:
        failure = ReconciliationFailed(error)
        _settle_lookup(attempt, error=failure, state=previous, duration_ms=elapsed_ms(started))
        raise failure from None
    if found is not None:
        settle(attempt, answer=found, duration_ms=elapsed_ms(started), lookup=True)
        return found
    audit(
        attempt,
        ACTIONS[IncidentAttempt.Kind(attempt.kind)].reconciled,
        AuditEntry.Outcome.NOT_FOUND,
        duration_ms=elapsed_ms(started),
    )
    if on_absent is not None:
        attempt.state = on_absent
        attempt.error = absent_note
        attempt.save(update_fields=["state", "error", "updated_at"])
    return None


def created_incident_in_phare(client: PhareClient, attempt: IncidentAttempt) -> Incident | None:
    """The incident an earlier create of `attempt` made, or None when Phare shows none: every
    incident created since the first try (on the monitors sent, when there were any) is read
    and compared with every body sent under the key. When Phare's list cannot be read in full
    this raises a PhareError, never None, so a create is not sent twice on the strength of a
    partial read."""
    since = attempt.created_at - RECONCILE_CLOCK_SKEW
    bodies = attempt.sent_payloads
    candidates = client.incidents_created_since(since=since, monitor_ids=_sent_monitors(bodies))
    return next((i for i in candidates if any(_same_incident(i, body) for body in bodies)), None)


def _sent_monitors(sent_bodies: list[dict]) -> list[int]:
    """The monitor ids the creates sent, to narrow Phare's list; none (read every incident)
    when a body has no monitors or holds anything else."""
    wanted: set[int] = set()
    for body in sent_bodies:
        monitors = body.get("monitors") or []
        if not monitors or not isinstance(monitors, list):
            return []
        if not all(type(item) is int and item > 0 for item in monitors):
            return []
        wanted.update(monitors)
    return sorted(wanted)


def _same_incident(incident: Incident, sent_body: dict) -> bool:
    if incident.title.strip() != str(sent_body.get("title", "")).strip():
        return False
    if "monitors" in incident.raw or incident.monitors:
        return set(incident.monitors) == set(sent_body.get("monitors") or [])
    return True


def attempt_reconcile(*, actor: User | None, attempt: IncidentAttempt) -> Incident | None:
    """Settle an unknown create without sending anything: created when Phare has the incident,
    otherwise failed, so that pressing the button again is a safe new send."""
    if actor is not None:
        permissions.require(actor, attempt.project, Capability.RESPOND)
    claimed = IncidentAttempt.objects.filter(
        pk=attempt.pk, kind=IncidentAttempt.Kind.CREATE, state=IncidentAttempt.State.UNKNOWN
    ).update(state=IncidentAttempt.State.SENDING, updated_at=timezone.now())
    if not claimed:
        return None
    attempt.refresh_from_db()
    found = reconcile(
        attempt,
        previous=IncidentAttempt.State.UNKNOWN,
        look_up=lambda client: created_incident_in_phare(client, attempt),
        on_absent=IncidentAttempt.State.FAILED,
        absent_note="Phare has no such incident: it is safe to create it again.",
    )
    return found if isinstance(found, Incident) else None


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
        ACTIONS[IncidentAttempt.Kind(attempt.kind)].reconciled,
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
    answer: Answer | None = None,
    error: PhareError | None = None,
    duration_ms: int,
    lookup: bool = False,
) -> None:
    status: int | None
    response_body = error.body if error else None
    if isinstance(answer, Incident):
        state = (
            IncidentAttempt.State.CREATED
            if attempt.kind == IncidentAttempt.Kind.CREATE
            else IncidentAttempt.State.DONE
        )
        status = 201 if state == IncidentAttempt.State.CREATED else 200
        attempt.found_in_phare = lookup
        attempt.phare_incident_id = answer.id
        attempt.phare_incident_slug = answer.slug
        attempt.phare_incident_at = answer.incident_at or answer.created_at
        response_body = answer.raw
    elif isinstance(answer, Done):
        state, status = IncidentAttempt.State.DONE, answer.status
        attempt.found_in_phare = lookup
        response_body = answer.body
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
        row_sql.update(attempt, SETTLED_FIELDS)
        actions = ACTIONS[IncidentAttempt.Kind(attempt.kind)]
        audit(
            attempt,
            actions.reconciled if lookup else actions.finished,
            AuditEntry.Outcome(state.value),
            response_body=response_body,
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
        template_name=attempt.template_name,
        payload=attempt.last_payload,
        http_status=attempt.http_status,
        response_body=response_body,
        phare_incident_id=attempt.phare_incident_id,
        phare_incident_slug=attempt.phare_incident_slug,
        error=attempt.error,
        duration_ms=duration_ms,
    )
    return audit_chain.append(entry)
