"""Reads of the console's own tables, for views and templates."""

from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Q, QuerySet

from incidents import permissions, row_sql
from incidents.models import IncidentAttempt, Membership, Monitor, PhareProject
from incidents.permissions import User

MONITOR_RESULTS_LIMIT = 50
# Up to this many matches are all shown, so "select all" can pick every one of them.
MONITOR_RESULTS_ALL_LIMIT = 100


class MonitorOption(NamedTuple):
    """One search result: what the picker shows of a monitor."""

    phare_id: int
    name: str
    target: str
    status: str


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
    if not (user.is_authenticated and user.is_active and not user.is_superuser):
        return project_list_for_user(user).filter(slug=slug).first()
    # Every request of a signed-in member starts here: one statement, written by hand (the ORM
    # took several times longer to build it than the database to answer).
    quote = connection.ops.quote_name
    projects, members = quote(PhareProject._meta.db_table), quote(Membership._meta.db_table)
    sql = (
        f"SELECT {row_sql.select_list(PhareProject, 'p')}, m.role FROM {projects} p "  # noqa: S608
        f"JOIN {members} m ON m.project_id = p.id WHERE p.slug = %s AND m.user_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [slug, user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    project = row_sql.instance_from_row(PhareProject, row[:-1])
    permissions.remember_role(user, project, row[-1])
    return project


def monitor_ids_known(project: PhareProject, phare_ids: Sequence[int]) -> set[int]:
    """Which of `phare_ids` are among the project's monitors (every create asks: by hand, as
    project_for_user)."""
    if not phare_ids:
        return set()
    monitors = connection.ops.quote_name(Monitor._meta.db_table)
    placeholders = ", ".join(["%s"] * len(phare_ids))
    sql = f"SELECT phare_id FROM {monitors} WHERE project_id = %s AND phare_id IN ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, *phare_ids])
        return {phare_id for (phare_id,) in cursor.fetchall()}


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


# Fewer characters hold no trigram: no index can answer them.
TRIGRAM_INDEX_MIN_LENGTH = 3


def _text_match(query: str, like: str, contains: str) -> tuple[str, list[int | str]]:
    """The test of a monitor's name or URL/host against `query`: the LIKE decides; on SQLite
    the FTS5 trigram index (migration 0011) first narrows the monitors to test to those
    holding the query's trigrams (case folded, so never fewer than the LIKE matches)."""
    condition = f"(search_name {like} OR search_target {like})"
    if connection.vendor != "sqlite" or len(query) < TRIGRAM_INDEX_MIN_LENGTH:
        return condition, [contains, contains]
    phrase = '"' + query.replace('"', '""') + '"'  # the whole text, as one FTS5 string
    candidates = (
        "id IN (SELECT rowid FROM incidents_monitor_text WHERE incidents_monitor_text MATCH %s)"
    )
    return f"({candidates} AND {condition})", [phrase, contains, contains]


def monitor_search(
    project: PhareProject, query: str, *, exclude_ids: Sequence[int] = ()
) -> tuple[list[MonitorOption], int]:
    """Monitors matching `query` by name, URL/host or id, best first, and how many matched.

    Name prefixes rank before other matches; on a tie, broken monitors before healthy ones.

    Every keystroke in the picker runs this at up to 10,000 monitors, so it is hand-written
    SQL (the ORM took longer to build the statement than the database to answer it) reading
    only the columns an option shows. For 3 characters or more, the `LIKE '%…%'` tests use a
    trigram index: pg_trgm on PostgreSQL (migration 0010), FTS5 on SQLite (0011).
    """
    query = query.strip().lower()
    where: list[str] = ["project_id = %s"]
    params: list[int | str] = [project.pk]
    if exclude_ids:
        where.append(f"phare_id NOT IN ({', '.join(['%s'] * len(exclude_ids))})")
        params += exclude_ids
    order, order_params = "status_rank, name", list[int | str]()  # the order of an index
    if query:
        like = connection.operators["contains"]  # the backend's LIKE, as Django writes it
        escaped = connection.ops.prep_for_like_query(query)  # a typed % or _ is itself
        contains, prefix = f"%{escaped}%", f"{escaped}%"
        # The id itself too, first, when the query is one (and fits a 64-bit id).
        by_id = [int(query)] if _is_id(query) else []
        text_match, text_params = _text_match(query, like, contains)
        where.append(f"({text_match}{' OR phare_id = %s' if by_id else ''})")
        params += [*text_params, *by_id]
        id_first = "WHEN phare_id = %s THEN 0 " if by_id else ""
        order = (
            f"CASE {id_first}WHEN search_name {like} THEN 1 WHEN search_name {like} THEN 2 "
            f"ELSE 3 END, {order}"
        )
        order_params = [*by_id, prefix, contains]
    table, condition = Monitor._meta.db_table, " AND ".join(where)
    if len(query) > 1:
        # Typed text matches a part of the monitors: each row carries the count of all the
        # matches (a window over them), so one scan answers both.
        count, count_params = "COUNT(*) OVER ()", list[int | str]()
    else:
        # Nothing or one character matches (nearly) every monitor, where a window would hold
        # them all: the first rows come in an index's order, the count from a subquery.
        count, count_params = f"(SELECT COUNT(*) FROM {table} WHERE {condition})", params  # noqa: S608
    # As many as could all be shown, plus one; more than that are cut to the first 50.
    limit = MONITOR_RESULTS_ALL_LIMIT + 1
    with connection.cursor() as cursor:
        # Only constants and placeholders are in the text; every value is a parameter.
        cursor.execute(
            f"SELECT phare_id, name, target, status, {count} FROM {table} "  # noqa: S608
            f"WHERE {condition} ORDER BY {order} LIMIT {limit}",
            [*count_params, *params, *order_params],
        )
        rows = cursor.fetchall()
    total = rows[0][-1] if rows else 0
    shown = rows if total <= MONITOR_RESULTS_ALL_LIMIT else rows[:MONITOR_RESULTS_LIMIT]
    return [MonitorOption._make(row[:-1]) for row in shown], total
