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
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from incidents import credentials, permissions
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
    """The submission key was used before; `attempt` is the first submission's record."""

    def __init__(self, attempt: IncidentAttempt):
        self.attempt = attempt
        if attempt.state == IncidentAttempt.State.SENDING:
            message = (
                "This form is already being sent to Phare; nothing was sent twice. Its result "
                "will be in “Recently created” and in the audit log in a moment."
            )
        elif attempt.state == IncidentAttempt.State.UNKNOWN:
            message = (
                "This form was already sent, and whether Phare created the incident is "
                "unknown; nothing was sent again. Check Phare's incident list: if the incident "
                "is not there, reload this page and create it again."
            )
        else:
            message = (
                f"This form was already sent ({attempt.get_state_display().lower()}); nothing "
                "was sent again. Reload the page to start a new incident."
            )
        super().__init__(message)
        self.message = message


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
) -> IncidentAttempt:
    """Create an incident in Phare, at most once per submission key, auditing before and after.

    Returns the settled attempt on success. Raises SubmissionAlreadyHandled when the key was
    used before (Phare is not called again; a rejected first attempt re-raises its 422), and
    the PhareError of a failed call after recording it.
    """
    permissions.require(actor, project, Capability.RESPOND)
    body = payload.to_json()
    try:
        with transaction.atomic():
            attempt = IncidentAttempt.objects.create(
                submission_key=submission_key, project=project, actor=actor, payload=body
            )
            _audit(attempt, AuditEntry.Action.INCIDENT_CREATE_STARTED, AuditEntry.Outcome.PENDING)
    except IntegrityError:
        _raise_for_earlier_submission(submission_key, project)

    # No transaction is open here: the record of the attempt stays whatever Phare does.
    started = time.monotonic()
    try:
        incident = PhareClient(project).create_incident(payload)
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
    _settle(attempt, incident=incident, duration_ms=_elapsed_ms(started))
    return attempt


def _raise_for_earlier_submission(submission_key: uuid.UUID, project: PhareProject) -> None:
    attempt = IncidentAttempt.objects.get(submission_key=submission_key)
    if attempt.project_id != project.pk:
        raise PermissionDenied("That submission belongs to another project.")
    if attempt.state == IncidentAttempt.State.REJECTED:
        # A double submission of a rejected form: show the same errors again.
        answer = attempt.audit_entries.filter(
            action=AuditEntry.Action.INCIDENT_CREATE_FINISHED
        ).first()
        body = answer.response_body if answer else None
        raise PhareValidationError(
            attempt.error or "Phare rejected the incident.",
            field_errors=field_errors_from(body),
            body=body,
        )
    raise SubmissionAlreadyHandled(attempt)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _settle(
    attempt: IncidentAttempt,
    *,
    incident: Incident | None = None,
    error: PhareError | None = None,
    duration_ms: int,
) -> None:
    if incident is not None:
        state, status = IncidentAttempt.State.CREATED, 201
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
    attempt.save()
    _audit(
        attempt,
        AuditEntry.Action.INCIDENT_CREATE_FINISHED,
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
    return AuditEntry.objects.create(
        actor=attempt.actor,
        actor_username=attempt.actor.get_username() if attempt.actor else "",
        project=attempt.project,
        attempt=attempt,
        action=action,
        outcome=outcome,
        payload=attempt.payload,
        http_status=attempt.http_status,
        response_body=response_body,
        phare_incident_id=attempt.phare_incident_id,
        phare_incident_slug=attempt.phare_incident_slug,
        error=attempt.error,
        duration_ms=duration_ms,
    )


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
    return monitor_sync_start(actor=actor, project=project)


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
    AuditEntry.objects.create(
        actor=actor,
        actor_username=actor.get_username() if actor else COMMAND_LINE_ACTOR,
        project=project,
        action=action,
        outcome=AuditEntry.Outcome.RECORDED,
    )
