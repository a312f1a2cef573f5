"""Possible duplicates: ongoing incidents of the project on any of the same monitors, declared
in the last DUPLICATE_WINDOW_MINUTES, through the console or in Phare directly.

Checking never calls Phare while someone waits: Phare's recent incidents are read when the
project page opens (in the background, at most once a minute per project) and kept in the
cache; the check at submit time reads that copy and the console's own attempts."""

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.models import IncidentAttempt, PhareProject
from incidents.phare import PhareClient, PhareError
from incidents.services import background

logger = logging.getLogger(__name__)
PHARE_COPY_TTL = 60  # seconds between reads of Phare's recent incidents, per project
ONGOING_STATES = [
    IncidentAttempt.State.CREATED,
    IncidentAttempt.State.SENDING,
    IncidentAttempt.State.UNKNOWN,
]


@dataclass(frozen=True)
class PossibleDuplicate:
    title: str
    reference: str  # Phare's slug, or what the console knows of it
    declared_by: str  # a console user, or "Phare" for an incident made elsewhere
    declared_at: datetime
    shared_monitors: list[str]  # names, as the console knows them


def _window() -> timedelta:
    return timedelta(minutes=settings.DUPLICATE_WINDOW_MINUTES)


def _copy_key(project: PhareProject) -> str:
    return f"phare-recent-incidents:{project.pk}"


def possible_duplicates(
    project: PhareProject, monitors: list[int], *, submission_key
) -> list[PossibleDuplicate]:
    if not monitors or settings.DUPLICATE_WINDOW_MINUTES <= 0:
        return []
    wanted, since = set(monitors), timezone.now() - _window()
    found: list[tuple[PossibleDuplicate, list[int]]] = []  # with the shared monitors' ids
    known_ids: set[int] = set()
    attempts = (
        IncidentAttempt.objects.filter(
            project=project, created_at__gte=since, state__in=ONGOING_STATES
        )
        .exclude(submission_key=submission_key)
        .select_related("actor")
    )
    for attempt in attempts:
        # Any body sent under the key may be the one Phare created.
        sent = [m for body in attempt.sent_payloads for m in body.get("monitors") or []]
        shared = wanted.intersection(sent)
        if attempt.phare_incident_id:
            known_ids.add(attempt.phare_incident_id)
        if shared and not attempt.last_payload.get("recovery_at"):
            reference = attempt.phare_incident_slug or attempt.get_state_display().lower()
            who = attempt.actor.get_username() if attempt.actor else "someone"
            declared = PossibleDuplicate(attempt.title, reference, who, attempt.created_at, [])
            found.append((declared, sorted(shared)))
    for incident in cache.get(_copy_key(project)) or []:
        created_at = parse_datetime(incident["created_at"] or "")
        shared = wanted.intersection(incident["monitors"])
        if (
            shared
            and incident["id"] not in known_ids
            and not incident["recovered"]
            and created_at is not None
            and created_at >= since
        ):
            declared = PossibleDuplicate(
                incident["title"], incident["slug"], "Phare", created_at, []
            )
            found.append((declared, sorted(shared)))
    names = dict(
        project.monitors.filter(phare_id__in={m for _, ids in found for m in ids}).values_list(
            "phare_id", "name"
        )
    )
    return [
        replace(duplicate, shared_monitors=[names.get(m, f"#{m}") for m in ids])
        for duplicate, ids in sorted(found, key=lambda pair: pair[0].declared_at, reverse=True)
    ]


def refresh_phare_copy_if_stale(project: PhareProject) -> None:
    """Read Phare's recent incidents for the check, unless read in the last minute (one reader
    per project: the cache's add() is the lock)."""
    if settings.DUPLICATE_WINDOW_MINUTES <= 0:
        return
    if not cache.add(f"{_copy_key(project)}:reading", True, PHARE_COPY_TTL):
        return
    background.run_after_response(f"recent-incidents-{project.pk}", _read_phare_copy, project)


def _read_phare_copy(project: PhareProject) -> None:
    try:
        incidents = PhareClient(project).list_incidents(since=timezone.now() - _window())
    except PhareError as error:
        logger.info("recent incidents of %s not read: %s", project.slug, error.message)
        return
    copy = [
        {
            "id": incident.id,
            "slug": incident.slug,
            "title": incident.title,
            "recovered": incident.status == "recovered" or incident.recovery_at is not None,
            "monitors": incident.monitors,
            "created_at": incident.created_at.isoformat() if incident.created_at else None,
        }
        for incident in incidents
    ]
    cache.set(_copy_key(project), copy, PHARE_COPY_TTL * 5)
