"""Tamper evidence for the audit log.

Each entry stores an HMAC-SHA256 over its own content and the previous entry's MAC, keyed with
AUDIT_CHAIN_KEY, which lives in the server's environment and never in the database. Changing,
removing or inserting an entry breaks the chain from that entry on, and someone who can write
the database but does not hold the key cannot compute the MACs that would mend it. Entries are
chained in id order; writers take a lock (PostgreSQL: an advisory lock; SQLite: its write lock)
so the chain has no forks.

Removing the newest entries leaves a shorter chain that still holds; that is what the anchor is
for: `audit_head` prints the newest entry's id, the count and its MAC as one signed line for a
log system outside the database, and `verify_audit_log --anchor LINE` checks the log against it.

AUDIT_CHAIN_KEY is a comma-separated list: the first key signs new entries and anchors, every
key verifies (rotation). No key id is stored: each entry is checked against the key that
verified the entry before it, then the others.
"""

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from incidents import row_sql
from incidents.models import AuditEntry

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_username",
    "project_id",
    "attempt_id",
    "action",
    "outcome",
    "title",
    "payload",
    "http_status",
    "response_body",
    "phare_incident_id",
    "phare_incident_slug",
    "error",
    "duration_ms",
)
# Fields added after entries were first written: in the MAC only when set, so that every entry
# written before a field existed still verifies, and setting or clearing one later is detected.
OPTIONAL_HASHED_FIELDS = ("template_name",)
CHAIN_LOCK_ID = 7_231_905_001  # any constant unique to this lock
MINIMUM_KEY_LENGTH = 32
ANCHOR_PATTERN = re.compile(
    r"audit-head v1 id=(?P<entry_id>\d+) count=(?P<count>\d+) mac=(?P<mac>[0-9a-f]{64}) "
    r"sig=(?P<sig>[0-9a-f]{64})"
)


def chain_keys() -> list[bytes]:
    """AUDIT_CHAIN_KEY's keys, the signing key first; with DEBUG on and none set, a key
    derived from SECRET_KEY stands in."""
    keys = [key.strip() for key in settings.AUDIT_CHAIN_KEY if key.strip()]
    if not keys:
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                "AUDIT_CHAIN_KEY is not set. Generate a key with: python -c "
                '"import secrets; print(secrets.token_urlsafe(32))"'
            )
        derived = hashlib.sha256(b"phare-console-audit-chain:" + settings.SECRET_KEY.encode())
        return [derived.hexdigest().encode()]
    for position, key in enumerate(keys, start=1):
        if len(key) < MINIMUM_KEY_LENGTH:
            raise ImproperlyConfigured(
                f"AUDIT_CHAIN_KEY entry {position} is shorter than {MINIMUM_KEY_LENGTH} "
                "characters. Generate a key with: python -c "
                '"import secrets; print(secrets.token_urlsafe(32))"'
            )
    return [key.encode() for key in keys]


def check_configuration() -> None:
    """Fail fast at start-up when the key is missing (DEBUG off) or too short."""
    chain_keys()
    if not [key for key in settings.AUDIT_CHAIN_KEY if key.strip()]:
        logger.warning(
            "AUDIT_CHAIN_KEY is not set: the audit log is signed with a key derived from "
            "SECRET_KEY. Set AUDIT_CHAIN_KEY before keeping a log that matters."
        )


def _message(values: dict[str, Any], previous_hash: str) -> bytes:
    content = {name: _canonical(values[name]) for name in HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if values.get(name):
            content[name] = _canonical(values[name])
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{previous_hash}\n{text}".encode()


def entry_hash(values: dict[str, Any], previous_hash: str) -> str:
    """The plain SHA-256 of the chain before AUDIT_CHAIN_KEY (migrations 0003 and 0007 only:
    anyone can compute it, so verification never accepts it)."""
    return hashlib.sha256(_message(values, previous_hash)).hexdigest()


def entry_mac(values: dict[str, Any], previous_hash: str, key: bytes) -> str:
    """The entry's link in the chain: HMAC-SHA256 with `key` over its content and the
    previous entry's MAC."""
    return hmac.new(key, _message(values, previous_hash), hashlib.sha256).hexdigest()


def _canonical(value: Any) -> Any:
    """The value as any database gives it back: UTC times to the microsecond, and JSON
    numbers without the float/int distinction PostgreSQL's jsonb does not keep."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def _values(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in (*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS)}


def _lock_chain() -> None:
    """Serialize writers until the transaction ends. SQLite transactions here begin
    IMMEDIATE (settings), which already holds its single write lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_ID])


def _last_hash() -> str:
    # By hand: the ORM spends more time building this statement than the database answering.
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT entry_hash FROM {table} ORDER BY id DESC LIMIT 1")  # noqa: S608
        last = cursor.fetchone()
    return last[0] if last else GENESIS


def append(entry: AuditEntry) -> AuditEntry:
    """Write `entry` as the newest link (its time is set here, under the lock, so the chain's
    order is also time order). Inside a caller's transaction it takes no savepoint: a failure
    here rolls the whole transaction back, so an event and the change it records land together
    or not at all (and two round trips to the database are saved)."""
    if entry.pk is not None:
        raise TypeError("Audit entries are append-only.")
    key = chain_keys()[0]
    with transaction.atomic(savepoint=False):
        _lock_chain()
        entry.previous_hash = _last_hash()
        entry.created_at = timezone.now()
        entry.entry_hash = entry_mac(_values(entry), entry.previous_hash, key)
        row_sql.insert(entry)
    return entry


def append_many(entries: Iterable[AuditEntry], *, batch_size: int = 5000) -> int:
    """Bulk-write entries in the given order as the newest links (seeding); their created_at
    must not go back in time. Returns how many were written."""
    key = chain_keys()[0]
    written = 0
    with transaction.atomic():
        _lock_chain()
        previous = _last_hash()
        batch: list[AuditEntry] = []
        for entry in entries:
            entry.previous_hash = previous
            entry.entry_hash = previous = entry_mac(_values(entry), previous, key)
            batch.append(entry)
            if len(batch) == batch_size:
                AuditEntry.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        AuditEntry.objects.bulk_create(batch)
        written += len(batch)
    return written


class _Verifier:
    """Checks MACs with every configured key, trying first the key that verified the entry
    before (entries come in long runs signed by one key)."""

    def __init__(self, keys: list[bytes]) -> None:
        self._macs = [hmac.new(key, digestmod=hashlib.sha256) for key in keys]

    def matches(self, values: dict[str, Any], previous_hash: str, stored: str) -> bool:
        message = _message(values, previous_hash)
        for position, base in enumerate(self._macs):
            mac = base.copy()
            mac.update(message)
            if hmac.compare_digest(mac.hexdigest(), stored):
                if position:
                    self._macs.insert(0, self._macs.pop(position))
                return True
        return False


@dataclass(frozen=True)
class Anchor:
    """The newest entry as `audit_head` saw it: its id, how many entries there were up to it,
    and its MAC."""

    entry_id: int
    count: int
    mac: str

    @property
    def text(self) -> str:
        return f"audit-head v1 id={self.entry_id} count={self.count} mac={self.mac}"

    def signed_line(self) -> str:
        return f"{self.text} sig={_anchor_signature(self.text, chain_keys()[0])}"


class AnchorError(ValueError):
    """The line is not an anchor, or its signature does not match any configured key."""


def _anchor_signature(text: str, key: bytes) -> str:
    # Entry messages start with 64 hex digits, so no entry MAC can pass for an anchor's.
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def current_anchor() -> Anchor:
    """The newest entry's anchor (id 0, count 0 and the genesis hash when the log is empty).
    Entries are committed in id order (the chain lock), so the count up to the newest id
    read is stable."""
    newest = AuditEntry.objects.order_by("-id").values("id", "entry_hash").first()
    if newest is None:
        return Anchor(entry_id=0, count=0, mac=GENESIS)
    count = AuditEntry.objects.filter(id__lte=newest["id"]).count()
    return Anchor(entry_id=newest["id"], count=count, mac=newest["entry_hash"])


def parse_anchor(line: str) -> Anchor:
    """The anchor in `line` (a log system's prefix around it is fine), once its signature
    is checked against every configured key; AnchorError otherwise."""
    found = ANCHOR_PATTERN.search(line)
    if found is None:
        raise AnchorError(
            "This is not an audit anchor: expected a line printed by `manage.py audit_head` "
            "(audit-head v1 id=… count=… mac=… sig=…)."
        )
    anchor = Anchor(entry_id=int(found["entry_id"]), count=int(found["count"]), mac=found["mac"])
    if not any(
        hmac.compare_digest(_anchor_signature(anchor.text, key), found["sig"])
        for key in chain_keys()
    ):
        raise AnchorError(
            "The anchor's signature does not match any key in AUDIT_CHAIN_KEY: it was forged "
            "or altered, or signed with a key that is no longer configured."
        )
    return anchor


@dataclass(frozen=True)
class ChainProblem:
    """The first thing wrong with the log, in id order: the entry it concerns (None when
    entries after the log's end are missing) and what is wrong."""

    entry_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainReport:
    count: int
    problem: ChainProblem | None


@contextmanager
def _rows(chunk_size: int) -> Iterator[Iterator[dict[str, Any]]]:
    """The entries in id order, read in chunks (on PostgreSQL a server-side cursor, closed on
    leaving, however early, while its transaction still exists)."""
    rows = AuditEntry.objects.order_by("id").values(
        "id", "previous_hash", "entry_hash", *HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS
    )
    # A generator: closing it closes the cursor.
    iterator = cast(Generator[dict[str, Any], None, None], rows.iterator(chunk_size=chunk_size))
    try:
        yield iterator
    finally:
        iterator.close()


def check(anchor: Anchor | None = None, *, chunk_size: int = 5000) -> ChainReport:
    """Walk the whole chain in id order and report the first entry that does not match its
    content, its place in the chain or `anchor`, or that entries up to the anchor are
    missing."""
    with _rows(chunk_size) as rows:
        return _check(rows, anchor)


def _check(rows: Iterator[dict[str, Any]], anchor: Anchor | None) -> ChainReport:
    verifier = _Verifier(chain_keys())
    previous = GENESIS
    count = 0
    last_id: int | None = None
    anchor_reached = anchor is None or anchor.entry_id == 0
    for row in rows:
        if not anchor_reached and anchor is not None and row["id"] > anchor.entry_id:
            return ChainReport(
                count,
                ChainProblem(
                    anchor.entry_id,
                    f"is missing: the anchor says it was entry number {anchor.count:,}, the "
                    "newest when the anchor was taken. It was removed, or the entries were "
                    "written again under new ids.",
                ),
            )
        count += 1
        if row["previous_hash"] != previous or not verifier.matches(
            row, previous, row["entry_hash"]
        ):
            return ChainReport(
                count,
                ChainProblem(
                    row["id"],
                    "does not match the chain: it, or the entry before it, was changed, "
                    "removed or inserted outside the console (or it was signed with a key "
                    "that is no longer in AUDIT_CHAIN_KEY).",
                ),
            )
        if anchor is not None and row["id"] == anchor.entry_id:
            anchor_reached = True
            if not hmac.compare_digest(row["entry_hash"], anchor.mac):
                return ChainReport(
                    count,
                    ChainProblem(
                        row["id"],
                        "does not match the anchor: the log up to it was written again (by "
                        "someone holding the chain key) or replaced.",
                    ),
                )
            if count != anchor.count:
                return ChainReport(
                    count,
                    ChainProblem(
                        row["id"],
                        f"is entry number {count:,} of the log, but number {anchor.count:,} "
                        "when the anchor was taken: entries before it were removed or "
                        "inserted.",
                    ),
                )
        previous = row["entry_hash"]
        last_id = row["id"]
    if not anchor_reached and anchor is not None:
        after = f"after audit entry {last_id}" if last_id is not None else "(the log is empty)"
        return ChainReport(
            count,
            ChainProblem(
                None,
                f"Entries {after} are missing: the anchor says entry {anchor.entry_id} was the "
                f"newest of {anchor.count:,} entries, the log now holds {count:,}.",
            ),
        )
    return ChainReport(count, None)


def first_broken_entry(*, chunk_size: int = 5000) -> int | None:
    """The id of the first entry whose MAC does not match its content or whose link to the
    previous entry is broken; None when the whole chain holds."""
    problem = check(chunk_size=chunk_size).problem
    return problem.entry_id if problem else None
