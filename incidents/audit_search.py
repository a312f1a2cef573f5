"""Searching the audit log: filters from a query string, pages walked with a cursor (keyset
on created_at and id, newest first, never OFFSET), and the same filter streamed as CSV or JSON
Lines for export. Users only ever see entries of projects they may view."""

import csv
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.http import QueryDict

from incidents.models import AuditEntry, PhareProject
from incidents.selectors import User, project_list_for_user

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEXT_LIMIT = 200
EXPORT_CHUNK = 2000


@dataclass(frozen=True)
class Cursor:
    """A position in the log: an entry's time and id."""

    at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> "Cursor | None":
        micros, _, entry_id = text.partition("-")
        if not (
            micros.isascii() and micros.isdigit() and entry_id.isascii() and entry_id.isdigit()
        ):
            return None
        if len(micros) > 17 or len(entry_id) > 18:
            return None
        return cls(EPOCH + timedelta(microseconds=int(micros)), int(entry_id))

    @classmethod
    def of(cls, entry: "AuditEntry | AuditRow") -> "Cursor":
        return cls(entry.created_at, entry.pk)


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to. Every value is one the database can take: from_query
    drops what it cannot use rather than failing later (or half-way through an export)."""

    project: str = ""
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: date | None = None  # UTC days, inclusive
    until: date | None = None
    text: str = ""

    @classmethod
    def from_query(cls, query: QueryDict) -> "AuditFilters":
        def text(name: str) -> str:
            return query.get(name, "").replace("\x00", "").strip()[:TEXT_LIMIT]

        return cls(
            project=text("project"),
            actor=text("actor"),
            action=text("action") if text("action") in AuditEntry.Action.values else "",
            outcome=text("outcome") if text("outcome") in AuditEntry.Outcome.values else "",
            since=_day(text("since")),
            # The last day Python can name has no next day to stop before, and it excludes
            # nothing anyway.
            until=_day(text("until"), last=LAST_DAY),
            text=text("q"),
        )

    def as_query(self) -> str:
        query = QueryDict(mutable=True)
        for name, value in (
            ("project", self.project),
            ("actor", self.actor),
            ("action", self.action),
            ("outcome", self.outcome),
            ("since", self.since.isoformat() if self.since else ""),
            ("until", self.until.isoformat() if self.until else ""),
            ("q", self.text),
        ):
            if value:
                query[name] = value
        return query.urlencode()


# SQLite and PostgreSQL store and compare every day Python can name (years 1 to 9999), but
# the last one has no next day for `until` to stop before.
LAST_DAY = date.max - timedelta(days=1)


def _day(text: str, *, last: date = date.max) -> date | None:
    """A day written YYYY-MM-DD, or None (no bound) when it is not one or is past `last`."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and day <= last else None


def entries_for(user: User, filters: AuditFilters) -> QuerySet[AuditEntry]:
    entries: QuerySet[AuditEntry] = AuditEntry.objects.all()
    if not user.is_superuser:
        entries = entries.filter(project__in=project_list_for_user(user))
    if filters.project:
        # The id, not a join on the slug: the (project, created_at, id) index then serves.
        project_id = PhareProject.objects.filter(slug=filters.project).values("id").first()
        entries = entries.filter(project_id=project_id["id"] if project_id else None)
    if filters.actor:
        entries = entries.filter(actor_username=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.outcome:
        entries = entries.filter(outcome=filters.outcome)
    if filters.since:
        entries = entries.filter(created_at__gte=datetime.combine(filters.since, time(), UTC))
    if filters.until and filters.until <= LAST_DAY:  # the very last day bounds nothing
        next_day = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        entries = entries.filter(created_at__lt=next_day)
    if filters.text:
        entries = _matching_text(entries, filters.text)
    return entries


def _matching_text(entries: QuerySet[AuditEntry], text: str) -> QuerySet[AuditEntry]:
    return entries.filter(Q(title__icontains=text) | Q(phare_incident_slug__icontains=text))


def _matching_text_in_order(entries: QuerySet[AuditEntry], text: str) -> QuerySet[AuditEntry]:
    """The same match as _matching_text, written so that no text index can serve it: on a
    window of entries, PostgreSQL then reads them in time order instead of collecting every
    match of a common word through pg_trgm (it guesses such matches to be rare)."""
    pattern = f"%{connection.ops.prep_for_like_query(text)}%"
    table = AuditEntry._meta.db_table
    escape = " ESCAPE '\\'" if connection.vendor == "sqlite" else ""
    condition = " OR ".join(
        f"UPPER({table}.{column} || '') LIKE UPPER(%s){escape}"
        for column in ("title", "phare_incident_slug")
    )
    matching = RawSQL(f"({condition})", [pattern, pattern], output_field=BooleanField())  # noqa: S611 (constant columns; the text is a parameter)
    return entries.filter(matching)


def _narrowed_by_text_index(entries: QuerySet[AuditEntry], text: str) -> QuerySet[AuditEntry]:
    """On SQLite, the trigram index (migration 0004) picks the candidates first; the exact
    match still decides. PostgreSQL's pg_trgm indexes serve the match itself."""
    if connection.vendor != "sqlite" or len(text) < 3:
        return entries
    phrase = '"' + text.replace('"', '""') + '"'
    candidates = RawSQL(
        "SELECT rowid FROM incidents_auditentry_text WHERE incidents_auditentry_text MATCH %s",
        [phrase],
    )
    return entries.filter(id__in=candidates)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An entry as a page lists it (templatetags/audit_log.py): the columns it shows and its
    project's name, read in one query; no JSON decoded, no model instances built."""

    pk: int
    created_at: datetime
    actor_username: str
    project_name: str
    action: str
    outcome: str
    title: str
    phare_incident_slug: str
    http_status: int | None


LISTED = ("id", "created_at", "actor_username", "project__name", "action", "outcome", "title",
          "phare_incident_slug", "http_status")  # fmt: skip


def _rows(entries: QuerySet[AuditEntry], limit: int) -> list[AuditRow]:
    return [AuditRow(*values) for values in entries.values_list(*LISTED)[:limit]]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRow]
    newer: Cursor | None  # where the page of newer entries starts, if there are any
    older: Cursor | None


def page_of(
    user: User,
    filters: AuditFilters,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """The newest `size` entries, or those just older than `before`, or just newer than
    `after`. New entries arriving between pages never shift an older page."""
    entries = entries_for(user, replace(filters, text=""))
    # (created_at, id) past the cursor, written so that the first condition bounds an index
    # range scan on its own (an OR alone makes databases read from the top).
    if after is not None:
        newer_first = entries.filter(
            Q(created_at__gte=after.at),
            Q(created_at__gt=after.at) | Q(id__gt=after.id),
        ).order_by("created_at", "id")
        rows = _first_matches(newer_first, filters.text, size + 1)
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        has_older = True
    else:
        if before is not None:
            entries = entries.filter(
                Q(created_at__lte=before.at),
                Q(created_at__lt=before.at) | Q(id__lt=before.id),
            )
        rows = _first_matches(entries.order_by("-created_at", "-id"), filters.text, size + 1)
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = before is not None
    return AuditPage(
        entries=rows,
        newer=Cursor.of(rows[0]) if rows and has_newer else None,
        older=Cursor.of(rows[-1]) if rows and has_older else None,
    )


TEXT_SCAN_WINDOW = 5000


def _first_matches(ordered: QuerySet[AuditEntry], text: str, limit: int) -> list[AuditRow]:
    """The first `limit` entries of `ordered` matching `text`. A common word is found by
    reading the next TEXT_SCAN_WINDOW entries in order (an index range); a rarer one through
    the text index. Both give exactly the entries the plain filter would."""
    if not text:
        return _rows(ordered, limit)
    bound = ordered.values_list("created_at", "id")[TEXT_SCAN_WINDOW - 1 : TEXT_SCAN_WINDOW]
    window_end = next(iter(bound), None)
    if window_end is not None:
        descending = str(ordered.query.order_by[0]).startswith("-")
        at, last_id = window_end
        if descending:
            window = ordered.filter(
                Q(created_at__gte=at), Q(created_at__gt=at) | Q(id__gte=last_id)
            )
        else:
            window = ordered.filter(
                Q(created_at__lte=at), Q(created_at__lt=at) | Q(id__lte=last_id)
            )
        rows = _rows(_matching_text_in_order(window, text), limit)
        if len(rows) == limit:
            return rows
    return _rows(_matching_text(_narrowed_by_text_index(ordered, text), text), limit)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Column of the export, and the field it is read from.
EXPORT = [
    ("id", "id"),
    ("created_at", "created_at"),
    ("actor", "actor_username"),
    ("project", "project__slug"),
    ("action", "action"),
    ("outcome", "outcome"),
    ("title", "title"),
    ("template_name", "template_name"),
    ("phare_incident_slug", "phare_incident_slug"),
    ("phare_incident_id", "phare_incident_id"),
    ("http_status", "http_status"),
    ("duration_ms", "duration_ms"),
    ("error", "error"),
    ("submission_key", "attempt__submission_key"),
    ("payload", "payload"),
    ("response_body", "response_body"),
    ("entry_hash", "entry_hash"),
]
EXPORT_COLUMNS = [column for column, _ in EXPORT]
EXPORT_FIELDS = [field for _, field in EXPORT]
CREATED_AT, SUBMISSION_KEY = (
    EXPORT_COLUMNS.index("created_at"),
    EXPORT_COLUMNS.index("submission_key"),
)
# Columns people or Phare typed; the others are numbers, hashes, keys or JSON objects.
TYPED_COLUMNS = [
    EXPORT_COLUMNS.index(name)
    for name in ("actor", "project", "title", "template_name", "phare_incident_slug", "error",
                 "payload", "response_body")
]  # fmt: skip
FORMULA_FIRST = frozenset(FORMULA_PREFIXES)


def _export_rows(user: User, filters: AuditFilters, *, json_as_text: bool) -> Iterator[list]:
    """Rows in EXPORT_COLUMNS order, newest first, read in chunks (constant memory). With
    `json_as_text`, payload and response body come as the database's JSON text.

    The query is built and its first chunk read here, before any byte of the export is sent:
    a filter the database refuses fails the request (a 400, 500 or 503 with its own page)
    instead of cutting the download short after a 200."""
    entries = entries_for(user, filters).order_by("-created_at", "-id")
    fields = list(EXPORT_FIELDS)
    if json_as_text:
        entries = entries.annotate(
            payload_text=Cast("payload", TextField()),
            response_text=Cast("response_body", TextField()),
        )
        fields[fields.index("payload")] = "payload_text"
        fields[fields.index("response_body")] = "response_text"
    rows = entries.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK)
    first = next(rows, None)
    return _formatted(itertools.chain([first], rows) if first is not None else iter(()))


def _formatted(rows: Iterator[tuple]) -> Iterator[list]:
    for values in rows:
        row = list(values)
        row[CREATED_AT] = row[CREATED_AT].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if row[SUBMISSION_KEY] is not None:
            row[SUBMISSION_KEY] = str(row[SUBMISSION_KEY])
        yield row


class _Echo:
    """csv.writer writes into this and gets the line back, so nothing accumulates."""

    def write(self, value: str) -> str:
        return value


def _batched(lines: Iterator[str], size: int = 500) -> Iterator[str]:
    """Lines joined into chunks: one write per row would make streaming slow."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _csv_cells(row: list) -> list:
    for index in TYPED_COLUMNS:
        value = row[index]
        if value and value[:1] in FORMULA_FIRST:
            row[index] = "'" + value
    return row


# Not generators themselves: the query runs when they are called (see _export_rows). What they
# return is a generator, whose close() (the WSGI server calls it, via the response, even when
# the download is cut short) closes the database cursor at once.
def csv_chunks(user: User, filters: AuditFilters) -> Iterator[str]:
    return _csv_stream(_export_rows(user, filters, json_as_text=True))


def json_lines_chunks(user: User, filters: AuditFilters) -> Iterator[str]:
    return _json_lines_stream(_export_rows(user, filters, json_as_text=False))


def _csv_stream(rows: Iterator[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    yield from _batched(writer.writerow(_csv_cells(row)) for row in rows)


def _json_lines_stream(rows: Iterator[list]) -> Iterator[str]:
    yield from _batched(
        json.dumps(dict(zip(EXPORT_COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"
        for row in rows
    )
