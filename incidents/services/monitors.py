"""The project's copy of its Phare monitors: refreshed all or nothing, one refresh at a time."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from incidents import permissions, ratelimit
from incidents.exceptions import SyncAlreadyRunning
from incidents.models import SYNC_LEASE, Monitor, PhareProject
from incidents.permissions import Capability, User
from incidents.phare import MonitorSummary, PhareClient, PhareError
from incidents.services import background

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


@dataclass(frozen=True)
class SyncResult:
    total: int
    added: int
    removed: int


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


@dataclass(frozen=True)
class RefreshRequested:
    started: bool
    # When a cooldown refused the refresh: when the person may ask again.
    retry_at: datetime | None = None


def monitor_refresh(*, actor: User, project: PhareProject) -> RefreshRequested:
    """Someone asks for a refresh of the project's monitors (Refresh monitors, or the create
    form finding the copy stale). Each reads every page of Phare's list from the
    organization's budget, so a refresh of a project is refused for
    MONITOR_REFRESH_COOLDOWN_SECONDS after the last one anybody asked for, and a person's for
    as long after the last one they asked for in any project of the same organization.
    Refreshes of a stale copy when a form opens (monitor_sync_if_stale) are not counted."""
    permissions.require(actor, project, Capability.RESPOND)
    lease = _claim_sync_lease(project)
    if lease is None:
        return RefreshRequested(started=False)  # already running: its result is coming
    wait = _claim_refresh_cooldown(actor, project)
    if wait > 0:
        _release_sync_lease(project, lease)
        return RefreshRequested(started=False, retry_at=timezone.now() + timedelta(seconds=wait))
    _start_holding_lease(project, lease)
    return RefreshRequested(started=True)


def monitor_sync_start(*, actor: User | None, project: PhareProject) -> bool:
    """Refresh the project's monitors without making anyone wait; False when a refresh is
    already running or, when a person asks, their cooldown refuses it (see monitor_refresh).
    With MONITOR_SYNC_IN_BACKGROUND off, the refresh runs here and now."""
    if actor is not None:
        return monitor_refresh(actor=actor, project=project).started
    return _start_sync(project)


def monitor_sync_if_stale(*, actor: User, project: PhareProject) -> bool:
    """Start a refresh when the copy is older than MONITOR_SYNC_TTL (or was never made)."""
    now = timezone.now()
    synced_at, failed_at = project.monitors_synced_at, project.monitors_sync_failed_at
    if synced_at is not None and now - synced_at < timedelta(seconds=settings.MONITOR_SYNC_TTL):
        return False
    if failed_at is not None and now - failed_at < SYNC_RETRY_AFTER_FAILURE:
        return False  # Refresh monitors still tries at once
    try:
        permissions.require(actor, project, Capability.RESPOND)
        return _start_sync(project)
    except DatabaseError as error:
        # A read-only database: the page still shows the copy it has.
        logger.warning("monitor refresh of %s not started: %s", project.slug, error)
        return False


def _start_sync(project: PhareProject) -> bool:
    lease = _claim_sync_lease(project)
    if lease is None:
        return False
    _start_holding_lease(project, lease)
    return True


def _start_holding_lease(project: PhareProject, lease: datetime) -> None:
    background.run_after_response(f"monitor-sync-{project.pk}", _sync_project, project.pk, lease)
    if not settings.MONITOR_SYNC_IN_BACKGROUND:
        project.refresh_from_db()  # it ran inline: show its outcome


def _release_sync_lease(project: PhareProject, lease: datetime) -> None:
    PhareProject.objects.filter(pk=project.pk, monitors_sync_started_at=lease).update(
        monitors_sync_started_at=None, monitors_sync_progress=""
    )
    project.monitors_sync_started_at = None
    project.monitors_sync_progress = ""


def _claim_refresh_cooldown(actor: User, project: PhareProject) -> float:
    """0 when `actor` may refresh `project` now (the cooldowns then start), else the seconds
    to wait. Kept where the rate budget is (Redis or the database), so every app server
    agrees; when that store fails the refresh goes ahead, and its reads meet the same
    failure in the budget."""
    keys = [
        f"monitor-refresh:project:{project.pk}",
        f"monitor-refresh:{project.rate_limit_key}:user:{actor.pk}",
    ]
    try:
        return ratelimit.claim_cooldown(keys, settings.MONITOR_REFRESH_COOLDOWN_SECONDS)
    except Exception as error:
        logger.warning("refresh cooldown unavailable (%s)", type(error).__name__)
        return 0.0


def _sync_project(project_pk: int, lease: datetime) -> None:
    # The project is read again: a background job shares no model instance with the request.
    _sync_logging_failures(PhareProject.objects.get(pk=project_pk), lease)


def _sync_logging_failures(project: PhareProject, lease: datetime) -> None:
    try:
        _sync_holding_lease(project, lease)
    except PhareError as error:
        logger.warning("monitor refresh of %s failed: %s", project.slug, error.message)
    except Exception:
        logger.exception("monitor refresh of %s crashed", project.slug)
