"""Reads of the console's own tables, for views and templates."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from incidents.models import AuditEntry, IncidentAttempt, Monitor, PhareProject

User = AbstractBaseUser | AnonymousUser
MONITOR_RESULTS_LIMIT = 50
# Up to this many matches are all shown, so "select all" can pick every one of them.
MONITOR_RESULTS_ALL_LIMIT = 100
# Broken monitors first: the one someone is declaring an incident about is likely among them.
STATUS_RANK = {"offline": 0, "partial": 1, "fetching": 2, "online": 3, "paused": 4}


def project_list_for_user(user: User) -> QuerySet[PhareProject]:
    if not user.is_authenticated:
        return PhareProject.objects.none()
    return PhareProject.objects.all()


def recent_incidents(project: PhareProject, *, limit: int = 10) -> QuerySet[IncidentAttempt]:
    return IncidentAttempt.objects.filter(
        project=project, state=IncidentAttempt.State.CREATED
    ).select_related("actor")[:limit]


def monitor_search(
    project: PhareProject, query: str, *, exclude_ids: list[int] = ()
) -> tuple[list[Monitor], int]:
    """Monitors matching `query` by name, URL/host or id, best first, and how many matched.

    Name prefixes rank before other matches; on a tie, broken monitors before healthy ones.
    """
    monitors = Monitor.objects.filter(project=project).exclude(phare_id__in=exclude_ids)
    query = query.strip()
    if query:
        matches = Q(name__icontains=query) | Q(target__icontains=query)
        if query.isascii() and query.isdigit() and len(query) <= 18:  # fits a 64-bit id
            matches |= Q(phare_id=int(query))
        monitors = monitors.filter(matches).annotate(
            match_rank=Case(
                When(name__istartswith=query, then=Value(0)),
                When(name__icontains=query, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
    else:
        monitors = monitors.annotate(match_rank=Value(0, output_field=IntegerField()))
    status_rank = Case(
        *(When(status=status, then=Value(rank)) for status, rank in STATUS_RANK.items()),
        default=Value(len(STATUS_RANK)),
        output_field=IntegerField(),
    )
    ranked = monitors.annotate(status_rank=status_rank).order_by(
        "match_rank", "status_rank", "name"
    )
    return list(ranked[:MONITOR_RESULTS_LIMIT]), monitors.count()


def audit_entries_for(
    user: User, *, project_slug: str = "", actor: str = "", outcome: str = ""
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.filter(project__in=project_list_for_user(user)).select_related(
        "project"
    )
    if project_slug:
        entries = entries.filter(project__slug=project_slug)
    if actor:
        entries = entries.filter(actor_username=actor)
    if outcome:
        entries = entries.filter(outcome=outcome)
    return entries
