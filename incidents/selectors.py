"""Reads of the console's own tables, for views and templates."""

from collections.abc import Sequence

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When

from incidents import permissions
from incidents.models import IncidentAttempt, Monitor, PhareProject
from incidents.permissions import User

MONITOR_RESULTS_LIMIT = 50
# Up to this many matches are all shown, so "select all" can pick every one of them.
MONITOR_RESULTS_ALL_LIMIT = 100


def project_list_for_user(user: User) -> QuerySet[PhareProject]:
    """The projects `user` may see: those they are a member of; every one for superusers."""
    if not (user.is_authenticated and user.is_active):
        return PhareProject.objects.none()
    if user.is_superuser:
        return PhareProject.objects.all()
    return PhareProject.objects.filter(memberships__user=user)


def project_for_user(user: User, slug: str) -> PhareProject | None:
    """The project `slug` if `user` may see it, else None. The member's role comes with it and
    is remembered for this request, so the permission checks that follow need no query."""
    if user.is_authenticated and user.is_active and not user.is_superuser:
        project = (
            project_list_for_user(user)
            .filter(slug=slug)
            .annotate(member_role=F("memberships__role"))
            .first()
        )
        if project is not None:
            permissions.remember_role(user, project, project.member_role)
        return project
    return project_list_for_user(user).filter(slug=slug).first()


def project_list_with_monitor_counts(user: User) -> QuerySet[PhareProject]:
    return project_list_for_user(user).annotate(monitor_count=Count("monitors"))


def attempt_list_created(project: PhareProject, *, limit: int = 10) -> QuerySet[IncidentAttempt]:
    return IncidentAttempt.objects.filter(project=project, state=IncidentAttempt.State.CREATED)[
        :limit
    ]


def _is_id(query: str) -> bool:
    return query.isascii() and query.isdigit() and len(query) <= 18


def _matching(query: str) -> Q:
    """Monitors whose name, URL/host or id matches `query` (stripped, lower case)."""
    matches = Q(search_name__contains=query) | Q(search_target__contains=query)
    if _is_id(query):
        matches |= Q(phare_id=int(query))
    return matches


def monitor_picked_match_count(
    project: PhareProject, query: str, *, picked_ids: Sequence[int]
) -> int:
    """How many of the picked monitors match `query`: with every match picked, the picker says
    so instead of "No monitor matches"."""
    if not picked_ids:
        return 0
    monitors = Monitor.objects.filter(project=project, phare_id__in=picked_ids)
    query = query.strip().lower()
    return (monitors.filter(_matching(query)) if query else monitors).count()


def monitor_search(
    project: PhareProject, query: str, *, exclude_ids: Sequence[int] = ()
) -> tuple[list[Monitor], int]:
    """Monitors matching `query` by name, URL/host or id, best first, and how many matched.

    Name prefixes rank before other matches; on a tie, broken monitors before healthy ones.
    """
    monitors = Monitor.objects.filter(project=project).exclude(phare_id__in=exclude_ids)
    query = query.strip().lower()
    if query:
        # The id itself first, when the query is one (and fits a 64-bit id).
        by_id = _is_id(query)
        id_rank = [When(phare_id=int(query), then=Value(0))] if by_id else []
        monitors = monitors.filter(_matching(query))
        ranked: QuerySet[Monitor] = monitors.annotate(
            match_rank=Case(
                *id_rank,
                When(search_name__startswith=query, then=Value(1)),
                When(search_name__contains=query, then=Value(2)),
                When(search_target__contains=query, then=Value(3)),
                default=Value(4),
                output_field=IntegerField(),
            )
        ).order_by("match_rank", "status_rank", "name")
    else:
        ranked = monitors.order_by("status_rank", "name")  # the order of an index
    # As many as could all be shown, plus one to know whether there are more: counting the
    # rest is a second, cheap query only when there are.
    first = list(ranked[: MONITOR_RESULTS_ALL_LIMIT + 1])
    if len(first) <= MONITOR_RESULTS_ALL_LIMIT:
        return first, len(first)
    return first[:MONITOR_RESULTS_LIMIT], monitors.count()
