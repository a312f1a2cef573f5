"""A project's incidents from the console's copy: filters from a query string and keyset pages
in the list's order (ongoing first, then the newest; never OFFSET)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet
from django.http import QueryDict

from incidents.models import Impact, IncidentAttempt, Monitor, PhareIncident, PhareProject

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUSES = {"ongoing": 0, "recovered": 1}
TEXT_LIMIT = 200
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Cursor:
    """A position in the list: an incident's rank, start and Phare id."""

    rank: int
    started_at: datetime
    phare_id: int

    def encode(self) -> str:
        micros = (self.started_at - EPOCH) // timedelta(microseconds=1)
        return f"{self.rank}-{micros}-{self.phare_id}"

    @classmethod
    def decode(cls, text: str) -> "Cursor | None":
        parts = text.split("-")
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts):
            return None
        rank, micros, phare_id = (int(part) for part in parts)
        if phare_id > MAX_ID or rank > 1:
            return None
        try:
            started_at = EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            return None
        return cls(rank, started_at, phare_id)

    @classmethod
    def of(cls, incident: PhareIncident) -> "Cursor":
        return cls(incident.status_rank, incident.started_at, incident.phare_id)


@dataclass(frozen=True)
class IncidentFilters:
    status: str = ""  # "", ongoing or recovered
    impact: str = ""
    monitor: int | None = None
    text: str = ""

    @classmethod
    def from_query(cls, query: QueryDict) -> "IncidentFilters":
        def text(name: str) -> str:
            return query.get(name, "").replace("\x00", "").strip()[:TEXT_LIMIT]

        monitor = text("monitor")
        return cls(
            status=text("status") if text("status") in STATUSES else "",
            impact=text("impact") if text("impact") in Impact.values else "",
            monitor=int(monitor)
            if monitor.isascii() and monitor.isdigit() and 0 < int(monitor) <= MAX_ID
            else None,
            text=text("q"),
        )

    def as_query(self) -> str:
        query = QueryDict(mutable=True)
        for name, value in (
            ("status", self.status),
            ("impact", self.impact),
            ("monitor", str(self.monitor) if self.monitor else ""),
            ("q", self.text),
        ):
            if value:
                query[name] = value
        return query.urlencode()


@dataclass(frozen=True)
class IncidentRow:
    incident: PhareIncident
    monitor_labels: list[str]
    declared_by: str  # the console user who declared it; empty when not through the console

    @property
    def source(self) -> str:
        if self.declared_by:
            return f"Console, by {self.declared_by}"
        return "Phare's monitoring" if self.incident.type == "monitor" else "Phare"


@dataclass(frozen=True)
class IncidentPage:
    rows: list[IncidentRow]
    newer: Cursor | None
    older: Cursor | None


def incidents_of(project: PhareProject, filters: IncidentFilters) -> QuerySet[PhareIncident]:
    incidents = PhareIncident.objects.filter(project=project, deleted_in_phare_at__isnull=True)
    if filters.status:
        incidents = incidents.filter(status_rank=STATUSES[filters.status])
    if filters.impact:
        incidents = incidents.filter(impact=filters.impact)
    if filters.monitor:
        incidents = incidents.filter(monitor_ids_text__contains=f",{filters.monitor},")
    if filters.text:
        incidents = incidents.filter(title__icontains=filters.text)
    return incidents


def page_of(
    project: PhareProject,
    filters: IncidentFilters,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> IncidentPage:
    """The first `size` incidents in the list's order, or those just after `before` (older),
    or just ahead of `after` (newer)."""
    incidents = incidents_of(project, filters)
    if after is not None:
        ahead = incidents.filter(
            Q(status_rank__lt=after.rank)
            | Q(status_rank=after.rank, started_at__gt=after.started_at)
            | Q(status_rank=after.rank, started_at=after.started_at, phare_id__gt=after.phare_id)
        ).order_by("-status_rank", "started_at", "phare_id")
        rows = list(ahead[: size + 1])
        has_newer, rows, has_older = len(rows) > size, rows[:size][::-1], True
    else:
        if before is not None:
            incidents = incidents.filter(
                Q(status_rank__gt=before.rank)
                | Q(status_rank=before.rank, started_at__lt=before.started_at)
                | Q(
                    status_rank=before.rank,
                    started_at=before.started_at,
                    phare_id__lt=before.phare_id,
                )
            )
        rows = list(incidents.order_by("status_rank", "-started_at", "-phare_id")[: size + 1])
        has_older, rows, has_newer = len(rows) > size, rows[:size], before is not None
    for incident in rows:
        incident.project = project  # for their addresses, without a query each
    names = monitor_names(project, {m for incident in rows for m in incident.monitors})
    declared = declared_by(project, [incident.phare_id for incident in rows])
    return IncidentPage(
        rows=[
            IncidentRow(
                incident,
                [names.get(m, f"#{m}") for m in incident.monitors],
                declared.get(incident.phare_id, ""),
            )
            for incident in rows
        ],
        newer=Cursor.of(rows[0]) if rows and has_newer else None,
        older=Cursor.of(rows[-1]) if rows and has_older else None,
    )


def monitor_names(project: PhareProject, ids: set[int]) -> dict[int, str]:
    return dict(
        Monitor.objects.filter(project=project, phare_id__in=ids).values_list("phare_id", "name")
    )


def declared_by(project: PhareProject, phare_ids: list[int]) -> dict[int, str]:
    """Who declared each of these incidents through the console (absent: not through it)."""
    created = IncidentAttempt.objects.filter(
        project=project,
        kind=IncidentAttempt.Kind.CREATE,
        state=IncidentAttempt.State.CREATED,
        phare_incident_id__in=phare_ids,
    ).select_related("actor")
    return {
        attempt.phare_incident_id: attempt.actor.get_username() if attempt.actor else "someone"
        for attempt in created
        if attempt.phare_incident_id is not None
    }
