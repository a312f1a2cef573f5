"""Use cases: each takes the acting user, checks what it may do, and records what happened."""

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from incidents import audit_chain, credentials, duplicates, permissions
from incidents.models import SYNC_LEASE, AuditEntry, IncidentAttempt, Monitor, PhareProject
from incidents.permissions import Capability
from incidents.phare import (
    Incident,
    IncidentPayload,
    MonitorSummary,
    PhareAuthError,
    PhareClient,
    PhareError,
    PhareOutcomeUnknown,
    PhareValidationError,
    field_errors_from,
    message_in,
)

logger = logging.getLogger(__name__)

MIRRORED_MONITOR_FIELDS = [
    "name",
    "status",
    "paused",
    "protocol",
    "target",
    "last_checked_at",
    "search_name",
    "search_target",
    "status_rank",
]
SYNC_RETRY_AFTER_FAILURE = timedelta(minutes=1)
_background_syncs: dict[int, threading.Thread] = {}

User = AbstractBaseUser | AnonymousUser


class SubmissionAlreadyHandled(Exception):
    """The submission key was used before; `attempt` is the first submission's record, in the
    state it reached while this request waited for it."""

    def __init__(self, attempt: IncidentAttempt):
        self.attempt = attempt
        if attempt.state == IncidentAttempt.State.SENDING:
            message = (
                "This form is still being sent to Phare by an earlier click; nothing was sent "
                "twice. Its result will be in “Recently created” and in the audit log."
            )
        elif attempt.state == IncidentAttempt.State.CREATED:
            message = "This form was already sent and the incident created; nothing was sent again."
        else:
            message = f"This form was just sent and Phare did not create it: {attempt.error}"
        super().__init__(message)
        self.message = message


class ReconciliationFailed(PhareError):
    """Before sending a form again, the console could not read Phare's incident list, so it
    sent nothing (the first try may have created the incident). `cause` says why."""

    def __init__(self, cause: PhareError):
        super().__init__(
            "Before sending this incident again the console looks for it in Phare, and that "
            f"failed, so nothing was sent: {cause.message}",
            status=cause.status,
            body=cause.body,
        )
        self.cause = cause


class DuplicateSuspected(Exception):
    """The monitors already have an ongoing incident from the last few minutes."""

    def __init__(self, found: list[duplicates.PossibleDuplicate]):
        super().__init__(f"{len(found)} possible duplicate(s)")
        self.found = found


class NotRecorded(PhareError):
    """Phare created the incident but the console could not record it."""


@dataclass(frozen=True)
class SyncResult:
    total: int
    added: int
    removed: int


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
                submission_key=submission_key, project=project, actor=actor, payload=body
            )
            _audit(attempt, AuditEntry.Action.INCIDENT_CREATE_STARTED, AuditEntry.Outcome.PENDING)
    except IntegrityError:
        attempt = _earlier_attempt(submission_key, project)
        previous = _claim_retry(attempt, actor=actor)
        if previous is None:
            raise SubmissionAlreadyHandled(_wait_while_sending(attempt)) from None
        incident = _reconcile(attempt, previous=previous, sent_body=attempt.payload, on_absent=None)
        if incident is not None:
            return attempt
        attempt.payload = body
        attempt.sends += 1
        attempt.save(update_fields=["payload", "sends", "actor", "updated_at"])
        _audit(attempt, AuditEntry.Action.INCIDENT_CREATE_STARTED, AuditEntry.Outcome.PENDING)
    return _send(attempt, payload)


def _send(attempt: IncidentAttempt, payload: IncidentPayload) -> IncidentAttempt:
    # No transaction is open here: the record of the attempt stays whatever Phare does.
    started = time.monotonic()
    try:
        incident = PhareClient(attempt.project).create_incident(payload)
    except PhareError as error:
        _settle(attempt, error=error, duration_ms=_elapsed_ms(started))
        raise
    except Exception:
        # Never leave an attempt "sending" forever: its key would stay blocked.
        unknown = PhareOutcomeUnknown(
            "The console failed while calling Phare. Check Phare's incident list before "
            "trying again."
        )
        _settle(attempt, error=unknown, duration_ms=_elapsed_ms(started))
        raise
    try:
        _settle(attempt, incident=incident, duration_ms=_elapsed_ms(started))
    except DatabaseError:
        logger.error("incident %s created but not recorded (database error)", incident.slug)
        raise NotRecorded(
            f"Phare created incident {incident.slug or incident.id}, but the console's database "
            "refused to record it (read-only or unreachable). It is in Phare; the audit log "
            "will show it once the database is back and the form is sent again."
        ) from None
    return attempt


def _earlier_attempt(submission_key: uuid.UUID, project: PhareProject) -> IncidentAttempt:
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


def _claim_retry(attempt: IncidentAttempt, *, actor: User) -> str | None:
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
    if actor.is_authenticated:
        attempt.actor = actor
    return previous


def _sending_stale_after() -> timedelta:
    """Longer than any send can take (connection retries, budget wait, Phare's timeout): an
    attempt still "sending" after this was abandoned by a process that died."""
    return timedelta(seconds=settings.PHARE_TIMEOUT + settings.PHARE_WRITE_MAX_WAIT + 30)


WAIT_POLL_S = 0.1


def _wait_while_sending(attempt: IncidentAttempt) -> IncidentAttempt:
    """The attempt once it leaves "sending", or as it is after the longest possible send."""
    deadline = time.monotonic() + _sending_stale_after().total_seconds()
    while attempt.state == IncidentAttempt.State.SENDING and time.monotonic() < deadline:
        time.sleep(WAIT_POLL_S)
        attempt.refresh_from_db()
    return attempt


RECONCILE_CLOCK_SKEW = timedelta(minutes=2)


def _reconcile(
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
        candidates = PhareClient(attempt.project).recent_incidents(since=since)
    except PhareError as error:
        failure = ReconciliationFailed(error)
        _settle_lookup(attempt, error=failure, state=previous, duration_ms=_elapsed_ms(started))
        raise failure from None
    incident = next((i for i in candidates if _same_incident(i, sent_body)), None)
    if incident is not None:
        _settle(attempt, incident=incident, duration_ms=_elapsed_ms(started), lookup=True)
        return incident
    _audit(
        attempt,
        AuditEntry.Action.INCIDENT_CREATE_RECONCILED,
        AuditEntry.Outcome.NOT_FOUND,
        duration_ms=_elapsed_ms(started),
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


def reconcile_unknown(*, actor: User | None, attempt: IncidentAttempt) -> Incident | None:
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
    return _reconcile(
        attempt,
        previous=IncidentAttempt.State.UNKNOWN,
        sent_body=attempt.payload,
        on_absent=IncidentAttempt.State.FAILED,
    )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _settle_lookup(
    attempt: IncidentAttempt, *, error: PhareError, state: str, duration_ms: int
) -> None:
    attempt.state = state
    attempt.error = error.message
    attempt.save(update_fields=["state", "error", "updated_at"])
    _audit(
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


def _settle(
    attempt: IncidentAttempt,
    *,
    incident: Incident | None = None,
    error: PhareError | None = None,
    duration_ms: int,
    lookup: bool = False,
) -> None:
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
        _audit(
            attempt,
            AuditEntry.Action.INCIDENT_CREATE_RECONCILED
            if lookup
            else AuditEntry.Action.INCIDENT_CREATE_FINISHED,
            AuditEntry.Outcome(state.value),
            response_body=incident.raw if incident else (error.body if error else None),
            duration_ms=duration_ms,
        )


def _audit(
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


class SyncAlreadyRunning(Exception):
    """Another refresh of the project's monitors holds the lease."""


def monitor_sync(*, actor: User | None, project: PhareProject) -> SyncResult:
    """Replace the project's copy of its monitors with Phare's list, all or nothing.

    One refresh at a time per project (SyncAlreadyRunning otherwise). A failure part-way
    keeps the last complete copy and is recorded on the project, so the page can say so.
    """
    if actor is not None:
        permissions.require(actor, project, Capability.RESPOND)
    lease = _claim_sync_lease(project)
    if lease is None:
        raise SyncAlreadyRunning(f"A refresh of {project.name}'s monitors is already running.")
    return _sync_holding_lease(project, lease)


def _claim_sync_lease(project: PhareProject) -> datetime | None:
    now = timezone.now()
    claimed = (
        PhareProject.objects.filter(pk=project.pk)
        .filter(
            Q(monitors_sync_started_at__isnull=True)
            | Q(monitors_sync_heartbeat_at__lt=now - SYNC_LEASE)
        )
        .update(
            monitors_sync_started_at=now,
            monitors_sync_heartbeat_at=now,
            monitors_sync_progress="Starting",
        )
    )
    if not claimed:
        return None
    project.monitors_sync_started_at = project.monitors_sync_heartbeat_at = now
    project.monitors_sync_progress = "Starting"
    return now


def _sync_holding_lease(project: PhareProject, lease: datetime) -> SyncResult:
    held = PhareProject.objects.filter(pk=project.pk, monitors_sync_started_at=lease)

    def progress(message: str) -> None:
        held.update(monitors_sync_progress=message[:200], monitors_sync_heartbeat_at=timezone.now())

    try:
        try:
            monitors = PhareClient(project).list_monitors(on_progress=progress)
        except PhareError as error:
            held.update(monitors_sync_error=error.message, monitors_sync_failed_at=timezone.now())
            raise
        return _store_monitors(project, monitors)
    finally:
        # Only our own lease: a refresh that outlived it must not free another's.
        held.update(monitors_sync_started_at=None, monitors_sync_progress="")
        project.monitors_sync_started_at = None


def _store_monitors(project: PhareProject, monitors: list[MonitorSummary]) -> SyncResult:
    # A monitor can appear on two pages when Phare's list shifts while it is read.
    summaries = list({summary.id: summary for summary in monitors}.values())
    now = timezone.now()
    with transaction.atomic():
        before = project.monitors.count()
        Monitor.objects.bulk_create(
            [_mirrored(project, summary, now) for summary in summaries],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["project", "phare_id"],
            update_fields=[*MIRRORED_MONITOR_FIELDS, "synced_at"],
        )
        # Every monitor Phare still has was just stamped `now`; the rest are gone from Phare.
        removed, _ = project.monitors.exclude(synced_at=now).delete()
        PhareProject.objects.filter(pk=project.pk).update(
            monitors_synced_at=now, monitors_sync_error="", monitors_sync_failed_at=None
        )
    project.monitors_synced_at, project.monitors_sync_error = now, ""
    total = len(summaries)
    logger.info("synced %d monitors of project %s", total, project.slug)
    return SyncResult(total=total, added=total - (before - removed), removed=removed)


def _mirrored(project: PhareProject, summary: MonitorSummary, now) -> Monitor:
    monitor = Monitor(
        project=project,
        phare_id=summary.id,
        name=summary.name,
        status=summary.status,
        paused=summary.paused,
        protocol=summary.protocol,
        target=summary.target,
        last_checked_at=summary.last_checked_at,
        synced_at=now,
    )
    monitor.fill_search_fields()
    return monitor


def monitor_sync_start(*, actor: User | None, project: PhareProject) -> bool:
    """Refresh the project's monitors without making anyone wait; False when a refresh is
    already running. With MONITOR_SYNC_IN_BACKGROUND off, the refresh runs here and now."""
    if actor is not None:
        permissions.require(actor, project, Capability.RESPOND)
    lease = _claim_sync_lease(project)
    if lease is None:
        return False
    if settings.MONITOR_SYNC_IN_BACKGROUND:
        thread = threading.Thread(
            target=_sync_in_background,
            args=(project.pk, lease),
            name=f"sync-{project.slug}",
            daemon=True,
        )
        _background_syncs[project.pk] = thread
        thread.start()
    else:
        _sync_logging_failures(project, lease)
        project.refresh_from_db()
    return True


def monitor_sync_if_stale(*, actor: User, project: PhareProject) -> bool:
    """Start a refresh when the copy is older than MONITOR_SYNC_TTL (or was never made)."""
    now = timezone.now()
    synced_at, failed_at = project.monitors_synced_at, project.monitors_sync_failed_at
    if synced_at is not None and now - synced_at < timedelta(seconds=settings.MONITOR_SYNC_TTL):
        return False
    if failed_at is not None and now - failed_at < SYNC_RETRY_AFTER_FAILURE:
        return False  # Refresh monitors still tries at once
    try:
        return monitor_sync_start(actor=actor, project=project)
    except DatabaseError as error:
        # A read-only database: the page still shows the copy it has.
        logger.warning("monitor refresh of %s not started: %s", project.slug, error)
        return False


def wait_for_background_syncs(timeout: float = 30.0) -> None:
    """For tests and shutdown: wait until the refreshes started here have finished."""
    for thread in list(_background_syncs.values()):
        thread.join(timeout)


def _sync_in_background(project_pk: int, lease: datetime) -> None:
    try:
        _sync_logging_failures(PhareProject.objects.get(pk=project_pk), lease)
    except Exception:
        logger.exception("monitor refresh of project %s could not start", project_pk)
    finally:
        _background_syncs.pop(project_pk, None)
        connection.close()  # the thread's own connection; nobody else will close it


def _sync_logging_failures(project: PhareProject, lease: datetime) -> None:
    try:
        _sync_holding_lease(project, lease)
    except PhareError as error:
        logger.warning("monitor refresh of %s failed: %s", project.slug, error.message)
    except Exception:
        logger.exception("monitor refresh of %s crashed", project.slug)


@dataclass(frozen=True)
class ConnectionCheck:
    works: bool
    summary: str
    detail: str = ""


def connection_check(*, actor: User, project: PhareProject) -> ConnectionCheck:
    """Whether Phare accepts the project's token, with one cheap read (admins only)."""
    permissions.require(actor, project, Capability.MANAGE)
    try:
        PhareClient(project).check_access()
    except PhareAuthError as error:
        if error.status == 401:
            return ConnectionCheck(False, "Token rejected (401)", "Phare does not accept it.")
        if error.status == 403:
            message = message_in(error.body, "")
            detail = f"Phare says: “{message}”" if message else "Phare gave no reason."
            return ConnectionCheck(False, "Missing permission (403)", detail)
        return ConnectionCheck(False, "No usable token", error.message)
    except PhareError as error:
        return ConnectionCheck(False, "Could not check", error.message)
    return ConnectionCheck(True, "Works", "Phare accepted the token and listed the monitors.")


COMMAND_LINE_ACTOR = "command line"


@sensitive_variables()
def project_provision(
    *,
    name: str,
    token: str,
    phare_project_id: int | None = None,
    phare_project_slug: str = "",
    organization: str = "",
    organization_key: bool = False,
) -> tuple[PhareProject, bool]:
    """Create or update the project named `name` (matched by its slug) with a new token, from
    the command line (audited as such)."""
    slug = slugify(name)
    if not slug:
        raise ValueError("The project name needs at least one letter or digit.")
    project = PhareProject.objects.filter(slug=slug).first()
    created = project is None
    if created:
        project = PhareProject(slug=slug)
    project.name = name
    project.phare_project_id = phare_project_id
    project.phare_project_slug = phare_project_slug
    project.organization = organization
    project.organization_key = organization_key
    credentials.encrypt_token_into(project, token)
    try:
        project.full_clean()
    except ValidationError as error:
        raise ValueError(" ".join(error.messages)) from None
    project.save()
    _audit_credential_change(project, actor=None, action=AuditEntry.Action.CREDENTIAL_SET)
    return project, created


@sensitive_variables()
def project_set_token(*, actor: User, project: PhareProject, token: str) -> None:
    """Replace the project's stored token; the token is never read back or recorded."""
    permissions.require(actor, project, Capability.MANAGE)
    credentials.encrypt_token_into(project, token)
    project.save(
        update_fields=["token_ciphertext", "token_last4", "token_fingerprint", "updated_at"]
    )
    _audit_credential_change(project, actor=actor, action=AuditEntry.Action.CREDENTIAL_SET)


def project_clear_token(*, actor: User, project: PhareProject) -> None:
    permissions.require(actor, project, Capability.MANAGE)
    project.token_ciphertext = project.token_last4 = project.token_fingerprint = ""
    project.save(
        update_fields=["token_ciphertext", "token_last4", "token_fingerprint", "updated_at"]
    )
    _audit_credential_change(project, actor=actor, action=AuditEntry.Action.CREDENTIAL_CLEARED)


def _audit_credential_change(
    project: PhareProject, *, actor: User | None, action: AuditEntry.Action
) -> None:
    """Who changed which project's token, and when; never the token."""
    audit_chain.append(
        AuditEntry(
            actor=actor,
            actor_username=actor.get_username() if actor else COMMAND_LINE_ACTOR,
            project=project,
            action=action,
            outcome=AuditEntry.Outcome.RECORDED,
        )
    )
