"""The console's copy of each project's Phare incidents and of the timelines people look at.

Pages read the copy and never call Phare per viewer: with the whole team watching a major
incident, Phare's 100 calls a minute per organization must still cover everything. The copy is
refreshed in the background, by one process at a time per project or incident (a lease in the
database, shared by every app server):
- an incident and its timeline at most every INCIDENT_DETAIL_REFRESH_SECONDS while its page is
  open (the page's polling asks for it), and at once after a write through the console;
- the list's first page, and the ongoing incidents it did not show, at most every
  INCIDENT_REFRESH_SECONDS while someone looks at the list; every page of the list at most every
  INCIDENT_FULL_READ_SECONDS (Phare documents no order and no total, so a complete read costs
  one call per 100 incidents), and on Refresh.

A refresh that finds an incident changed outside the console marks it and writes one
`incident.changed_outside` audit entry with the before and after.
"""

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents import audit_chain, permissions
from incidents.models import (
    AuditEntry,
    Impact,
    IncidentAttempt,
    PhareIncident,
    PhareIncidentUpdate,
    PhareProject,
)
from incidents.permissions import Capability, User
from incidents.phare import (
    Incident,
    IncidentUpdate,
    PhareClient,
    PhareError,
    PhareNotFound,
    same_value,
)
from incidents.services import background

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # longer than any refresh: one page waits 10 s at most
# Incidents of the copy not on the pages just read (ongoing ones, or any after a complete
# read), read one by one to confirm them: a few per refresh, to keep within the read budget.
CHECKS_PER_REFRESH = 3
REFRESH_COOLDOWN = timedelta(seconds=60)  # between two presses of Refresh (a complete read)
FULL_READ_MAX_PAGES = 200
# What "changed in Phare" compares; the timeline's state is followed through its updates.
TRACKED_FIELDS = (
    "title",
    "impact",
    "status",
    "incident_at",
    "recovery_at",
    "monitors",
    "description",
    "exclude_from_downtime",
)
OUTSIDE_ACTOR = "Phare"


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any

    @property
    def label(self) -> str:
        return self.field.replace("_", " ").capitalize()

    @property
    def before_text(self) -> str:
        return _shown(self.field, self.before)

    @property
    def after_text(self) -> str:
        return _shown(self.field, self.after)


# -- storing what Phare said ------------------------------------------------------------------


def store_incident(
    project: PhareProject,
    incident: Incident,
    *,
    outside: bool = True,
    read_started: datetime | None = None,
) -> PhareIncident:
    """Put `incident` as Phare described it into the copy. With `outside`, a difference from
    the copy is a change made outside the console: marked and audited. A write through the
    console stores its own answer with `outside=False`.

    A read that started before a write of the console's finished (`read_started`), or that is
    older than what the copy holds (Phare's `updated_at`), may show the incident as it was
    before that write: it is dropped, and the next refresh reads it again."""
    try:
        return _store_incident(project, incident, outside=outside, read_started=read_started)
    except IntegrityError:
        # Another process stored the same new incident first: store over its row.
        return _store_incident(project, incident, outside=outside, read_started=read_started)


def _store_incident(
    project: PhareProject, incident: Incident, *, outside: bool, read_started: datetime | None
) -> PhareIncident:
    now = timezone.now()
    with transaction.atomic():
        copy = (
            PhareIncident.objects.select_for_update()
            .filter(project=project, phare_id=incident.id)
            .first()
        )
        is_new = copy is None
        if copy is None:
            copy = PhareIncident(project=project, phare_id=incident.id)
        elif outside and _older_than_copy(copy, incident, read_started):
            return copy
        changes = [] if is_new else _changes(copy, incident)
        if changes and outside:
            changes = _not_made_by_console(copy, changes)
        _fill(copy, incident, now)
        if changes and outside:
            copy.changed_outside_at = now
            copy.changed_outside_summary = describe(changes)
            _audit_outside_change(copy, changes)
        copy.save()
    return copy


def _older_than_copy(
    copy: PhareIncident, incident: Incident, read_started: datetime | None
) -> bool:
    if (
        incident.updated_at
        and copy.phare_updated_at
        and incident.updated_at < copy.phare_updated_at
    ):
        return True
    return read_started is not None and _console_wrote_since(copy, read_started)


def _console_wrote_since(copy: PhareIncident, moment: datetime) -> bool:
    return IncidentAttempt.objects.filter(
        project=copy.project,
        phare_incident_id=copy.phare_id,
        state=IncidentAttempt.State.DONE,
        finished_at__gte=moment,
    ).exists()


def store_timeline(
    copy: PhareIncident,
    updates: Iterable[IncidentUpdate],
    *,
    console_posted: Collection[int] = (),
    outside: bool = True,
) -> None:
    """Replace the copy of `copy`'s timeline with Phare's. An update the copy did not have,
    on a timeline read before, was posted outside the console (unless `outside` is off).
    Updates posted through the console stay even when the read does not show them yet."""
    now = timezone.now()
    with transaction.atomic():
        known = set(copy.updates.values_list("phare_id", flat=True))
        first_read = copy.timeline_read_at is None
        seen: list[int] = []
        new_outside: list[IncidentUpdate] = []
        for update in updates:
            seen.append(update.id)
            defaults = {
                "state": update.state[:20],
                "content": update.content,
                "published_at": update.published_at or update.created_at,
                "phare_created_at": update.created_at,
                "creator_type": update.creator_type[:20],
                "creator_label": update.creator_label[:255],
            }
            PhareIncidentUpdate.objects.update_or_create(
                incident=copy, phare_id=update.id, defaults=defaults
            )
            if update.id not in known and not first_read and update.id not in console_posted:
                new_outside.append(update)
        if new_outside and outside:
            new_outside = _updates_not_posted_by_console(copy, new_outside)
        copy.updates.exclude(phare_id__in=seen).filter(posted_by__isnull=True).delete()
        copy.timeline_read_at = now
        fields = ["timeline_read_at"]
        if new_outside and outside:
            changes = [
                Change("update", None, f"{u.state.title()}: “{_clip(u.content)}”")
                for u in new_outside
            ]
            copy.changed_outside_at = now
            copy.changed_outside_summary = describe(changes)
            fields += ["changed_outside_at", "changed_outside_summary"]
            _audit_outside_change(copy, changes)
        copy.save(update_fields=fields)


def store_posted_update(copy: PhareIncident, update: IncidentUpdate, *, actor: User) -> None:
    """The update the console just posted, at the top of the timeline before any refresh."""
    PhareIncidentUpdate.objects.update_or_create(
        incident=copy,
        phare_id=update.id,
        defaults={
            "state": update.state[:20],
            "content": update.content,
            "published_at": update.published_at or update.created_at or timezone.now(),
            "phare_created_at": update.created_at,
            "creator_type": update.creator_type[:20],
            "creator_label": update.creator_label[:255],
            "posted_by": permissions.recorded_actor(actor),
        },
    )


def mark_deleted(copy: PhareIncident) -> None:
    copy.deleted_in_phare_at = timezone.now()
    copy.save(update_fields=["deleted_in_phare_at"])


def _fill(copy: PhareIncident, incident: Incident, now: datetime) -> None:
    copy.slug = incident.slug[:100]
    copy.type = incident.type[:20]
    copy.title = incident.title[:250]
    copy.impact = incident.impact[:30]
    copy.status = incident.status[:20]
    copy.state = incident.state[:20]
    copy.description = incident.description
    copy.exclude_from_downtime = incident.exclude_from_downtime
    copy.monitors = list(incident.monitors)
    copy.incident_at = incident.incident_at
    copy.recovery_at = incident.recovery_at
    copy.phare_created_at = incident.created_at
    copy.phare_updated_at = incident.updated_at
    copy.read_at = now
    copy.deleted_in_phare_at = None
    copy.fill_derived_fields()


def _changes(copy: PhareIncident, incident: Incident) -> list[Change]:
    changes = []
    for name in TRACKED_FIELDS:
        before, after = getattr(copy, name), getattr(incident, name)
        if name == "monitors":
            before, after = sorted(before or []), sorted(after or [])
        if name == "description":
            before, after = before or "", after or ""
        if before != after:
            changes.append(Change(name, before, after))
    return changes


# The console's own writes whose effect the copy may not show yet: still sending (Phare may
# have done it already), of unknown outcome (the connection broke), or done since the copy last
# read Phare (a recovery is read back after it is marked done). A refresh that sees what they
# sent must not report it as made outside the console.
UNSETTLED = (IncidentAttempt.State.SENDING, IncidentAttempt.State.UNKNOWN)
# An unknown outcome nobody pressed again for this long no longer hides changes made in Phare.
UNSETTLED_FOR = timedelta(hours=1)
ANY_VALUE = object()


def _unsettled_writes(copy: PhareIncident, *kinds: IncidentAttempt.Kind) -> QuerySet:
    recent = timezone.now() - UNSETTLED_FOR
    not_in_copy = Q(state__in=UNSETTLED, created_at__gte=recent) | Q(
        state=IncidentAttempt.State.DONE, finished_at__gte=copy.read_at
    )
    return IncidentAttempt.objects.filter(
        not_in_copy, project=copy.project, phare_incident_id=copy.phare_id, kind__in=kinds
    ).order_by("created_at", "id")


def _not_made_by_console(copy: PhareIncident, changes: list[Change]) -> list[Change]:
    """The changes that no unsettled edit or recovery of the console's explains."""
    expected: dict[str, list[Any]] = defaultdict(list)  # each field's values the console sent
    for attempt in _unsettled_writes(copy, IncidentAttempt.Kind.EDIT, IncidentAttempt.Kind.RECOVER):
        if attempt.kind == IncidentAttempt.Kind.RECOVER:
            expected["status"].append("recovered")
            expected["recovery_at"].append(ANY_VALUE)
            continue
        for sent in attempt.sent_payloads:
            for name, value in sent.items():
                if name in ("incident_at", "recovery_at") and isinstance(value, str):
                    value = parse_datetime(value)
                expected[name].append(value)
            if "recovery_at" in sent:
                expected["status"].append(ANY_VALUE)  # Phare ends or reopens the incident
    return [
        change
        for change in changes
        if not any(
            value is ANY_VALUE or same_value(value, change.after)
            for value in expected.get(change.field, [])
        )
    ]


def _updates_not_posted_by_console(
    copy: PhareIncident, updates: list[IncidentUpdate]
) -> list[IncidentUpdate]:
    """The updates that no unsettled post of the console's explains (same state and text)."""
    sent = [
        (body.get("state"), str(body.get("content", "")).strip())
        for attempt in _unsettled_writes(copy, IncidentAttempt.Kind.UPDATE_CREATE)
        for body in attempt.sent_payloads
    ]
    return [u for u in updates if (u.state, u.content.strip()) not in sent]


def describe(changes: list[Change]) -> str:
    """For people: "impact Partial outage → Major outage; title “A” → “B”"."""
    return "; ".join(_describe_one(change) for change in changes)


def _describe_one(change: Change) -> str:
    if change.field == "update":
        return f"new update {change.after}"
    label = change.field.replace("_", " ")
    return f"{label} {_shown(change.field, change.before)} → {_shown(change.field, change.after)}"


def _shown(field: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if field == "impact":
        return Impact(value).label.lower() if value in Impact.values else str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list):
        return ", ".join(f"#{item}" for item in value)
    if field in ("title", "description"):
        return f"“{_clip(str(value))}”"
    return str(value)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _audit_outside_change(copy: PhareIncident, changes: list[Change]) -> None:
    audit_chain.append(
        AuditEntry(
            actor=None,
            actor_username=OUTSIDE_ACTOR,
            project=copy.project,
            action=AuditEntry.Action.INCIDENT_CHANGED_OUTSIDE,
            outcome=AuditEntry.Outcome.RECORDED,
            title=copy.title[:250],
            payload={
                "before": {c.field: _json_value(c.before) for c in changes},
                "after": {c.field: _json_value(c.after) for c in changes},
            },
            phare_incident_id=copy.phare_id,
            phare_incident_slug=copy.slug,
        )
    )


# -- refreshing the copy ------------------------------------------------------------------


@dataclass
class Lease:
    """One process at a time refreshes a part of the copy: the lease is a time in a column of
    its row, taken by a conditional update and valid until then."""

    rows: QuerySet
    field: str
    until: datetime

    @classmethod
    def claim(cls, rows: QuerySet, field: str) -> "Lease | None":
        now = timezone.now()
        until = now + LEASE
        free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})
        return cls(rows, field, until) if rows.filter(free).update(**{field: until}) else None

    def renew(self) -> bool:
        """False when the lease ran out and another process took it."""
        renewed = timezone.now() + LEASE
        if not self._mine().update(**{self.field: renewed}):
            return False
        self.until = renewed
        return True

    def release(self) -> None:
        self._mine().update(**{self.field: None})

    def keep_for(self, seconds: int) -> None:
        """A pause before the next refresh (after a failure: not every poll tries again)."""
        pause = timezone.now() + timedelta(seconds=max(seconds, 1))
        self._mine().update(**{self.field: pause})

    def _mine(self) -> QuerySet:
        return self.rows.filter(**{self.field: self.until})


def incident_refresh(project: PhareProject, phare_id: int) -> PhareIncident | None:
    """Read one incident and its timeline from Phare into the copy, now (raises PhareError).
    None when Phare no longer has it (the copy, if any, is marked deleted)."""
    client = PhareClient(project)
    read_started = timezone.now()
    try:
        incident = client.get_incident(phare_id)
        if not _of_project(project, incident):
            raise PhareNotFound("That incident belongs to another Phare project.")
    except PhareNotFound:
        copy = PhareIncident.objects.filter(project=project, phare_id=phare_id).first()
        if copy is not None:
            mark_deleted(copy)
        return None
    copy = store_incident(project, incident, read_started=read_started)
    updates = client.list_incident_updates(phare_id)
    if not _console_wrote_since(copy, read_started):
        store_timeline(copy, updates, console_posted=_console_posted(copy))
    return copy


def _of_project(project: PhareProject, incident: Incident) -> bool:
    """False for an incident Phare says is another project's: with an organization token, a
    read by id must not reach past the project the console was given."""
    owner = incident.raw.get("project_id")
    return not (
        project.phare_project_id and isinstance(owner, int) and owner != project.phare_project_id
    )


def _console_posted(copy: PhareIncident) -> set[int]:
    """The Phare ids of this incident's updates posted through the console."""
    return set(copy.updates.filter(posted_by__isnull=False).values_list("phare_id", flat=True))


def incident_refresh_if_stale(copy: PhareIncident) -> bool:
    """Refresh the incident in the background when its copy is older than
    INCIDENT_DETAIL_REFRESH_SECONDS and nobody else is refreshing it; True when started. An
    incident deleted in Phare is read again only every INCIDENT_FULL_READ_SECONDS."""
    now = timezone.now()
    seconds = settings.INCIDENT_DETAIL_REFRESH_SECONDS
    if copy.deleted_in_phare_at is not None:
        seconds = settings.INCIDENT_FULL_READ_SECONDS
        if now - copy.deleted_in_phare_at < timedelta(seconds=seconds):
            return False
    fresh = timedelta(seconds=seconds)
    if copy.timeline_read_at is not None and now - min(copy.read_at, copy.timeline_read_at) < fresh:
        return False
    lease = Lease.claim(PhareIncident.objects.filter(pk=copy.pk), "lease_until")
    if lease is None:
        return False
    background.run_after_response(
        f"incident-refresh-{copy.pk}", _refresh_holding_lease, copy.project_id, copy.phare_id, lease
    )
    return True


def _refresh_holding_lease(project_pk: int, phare_id: int, lease: Lease) -> None:
    project = PhareProject.objects.get(pk=project_pk)
    try:
        incident_refresh(project, phare_id)
    except PhareError as error:
        logger.info("incident %s of %s not refreshed: %s", phare_id, project.slug, error.message)
        # Phare unreachable or over budget: the lease stays as a pause before the next try,
        # so that every poll of every watcher does not try again at once.
        lease.keep_for(settings.INCIDENT_DETAIL_REFRESH_SECONDS)
        return
    lease.release()


def incident_list_refresh_if_stale(project: PhareProject) -> bool:
    """Refresh the project's list in the background when it is due; True when started."""
    full = _due(project.incidents_read_at, settings.INCIDENT_FULL_READ_SECONDS)
    first_page = _due(project.incidents_first_page_read_at, settings.INCIDENT_REFRESH_SECONDS)
    if not (full or first_page):
        return False
    return _start_list_refresh(project, full=full)


def incident_list_refresh_start(*, actor: User, project: PhareProject) -> bool:
    """Refresh, pressed: every page of the list now, in the background; False when a refresh
    is already running or the whole list was read less than REFRESH_COOLDOWN ago (any member
    may press it: it must not spend the organization's read budget)."""
    permissions.require(actor, project, Capability.VIEW)
    read_at = project.incidents_read_at
    if read_at is not None and timezone.now() - read_at < REFRESH_COOLDOWN:
        return False
    return _start_list_refresh(project, full=True)


def _due(read_at: datetime | None, seconds: int) -> bool:
    return read_at is None or timezone.now() - read_at >= timedelta(seconds=seconds)


def _start_list_refresh(project: PhareProject, *, full: bool) -> bool:
    lease = Lease.claim(PhareProject.objects.filter(pk=project.pk), "incidents_lease_until")
    if lease is None:
        return False
    background.run_after_response(
        f"incident-list-{project.pk}", _list_refresh_holding_lease, project.pk, lease, full
    )
    return True


def _list_refresh_holding_lease(project_pk: int, lease: Lease, full: bool) -> None:
    project = PhareProject.objects.get(pk=project_pk)
    try:
        incident_list_refresh(project, full=full, lease=lease)
    except PhareError as error:
        logger.info("incidents of %s not refreshed: %s", project.slug, error.message)
        PhareProject.objects.filter(pk=project_pk).update(incidents_refresh_error=error.message)
        lease.keep_for(settings.INCIDENT_REFRESH_SECONDS)
        return
    lease.release()


def incident_list_refresh(project: PhareProject, *, full: bool, lease: Lease | None = None) -> int:
    """Read the project's incidents into the copy, now: every page with `full`, else the
    first page and a few of the copy's incidents it did not show (ongoing ones; after a
    complete read, any). The lease, when given, is renewed on every page. Returns how many
    incidents the pages listed."""
    client = PhareClient(project)
    rows = PhareProject.objects.filter(pk=project.pk)
    seen: set[int] = set()
    page_number = 1
    while True:
        read_started = timezone.now()
        page = client.list_incidents_page(page_number)
        for incident in page.items:
            store_incident(project, incident, read_started=read_started)
            seen.add(incident.id)
        if not (full and page.has_next) or page_number >= FULL_READ_MAX_PAGES:
            break
        page_number += 1
        if lease is not None and not lease.renew():
            return len(seen)  # the lease ran out and another process took over the read
    copies = PhareIncident.objects.filter(project=project, deleted_in_phare_at__isnull=True)
    # Not on the pages read: ongoing ones may have changed, and after a complete read the others
    # may be gone. Phare documents no order, so each is confirmed by reading it, a few at a time.
    unseen = copies.exclude(phare_id__in=seen)
    if not (full and not page.has_next):
        unseen = unseen.filter(status_rank=0)
    for copy in unseen.order_by("read_at")[:CHECKS_PER_REFRESH]:
        read_started = timezone.now()
        try:
            incident = client.get_incident(copy.phare_id)
        except PhareNotFound:
            mark_deleted(copy)
            continue
        store_incident(project, incident, read_started=read_started)
    now = timezone.now()
    fields: dict[str, Any] = {"incidents_first_page_read_at": now, "incidents_refresh_error": ""}
    if full:
        fields["incidents_read_at"] = now
    rows.update(**fields)
    return len(seen)
