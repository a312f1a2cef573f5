"""Tamper evidence for the audit log: each entry stores a SHA-256 over its own content and the
previous entry's hash, so changing, removing or inserting an entry behind the console's back
breaks the chain from that entry on. Entries are chained in id order; writers take a lock
(PostgreSQL: an advisory lock; SQLite: its write lock) so the chain has no forks."""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from incidents.models import AuditEntry

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
CHAIN_LOCK_ID = 7_231_905_001  # any constant unique to this lock


def entry_hash(values: dict[str, Any], previous_hash: str) -> str:
    content = {name: _canonical(values[name]) for name in HASHED_FIELDS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous_hash}\n{text}".encode()).hexdigest()


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
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def _lock_chain() -> None:
    """Serialize writers until the transaction ends. SQLite transactions here begin
    IMMEDIATE (settings), which already holds its single write lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_ID])


def _last_hash() -> str:
    last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
    return last or GENESIS


def append(entry: AuditEntry) -> AuditEntry:
    """Write `entry` as the newest link (its time is set here, under the lock, so the chain's
    order is also time order). Inside a caller's transaction it takes no savepoint: a failure
    here rolls the whole transaction back, so an event and the change it records land together
    or not at all (and two round trips to the database are saved)."""
    with transaction.atomic(savepoint=False):
        _lock_chain()
        entry.previous_hash = _last_hash()
        entry.created_at = timezone.now()
        entry.entry_hash = entry_hash(_values(entry), entry.previous_hash)
        entry.save()
    return entry


def append_many(entries: Iterable[AuditEntry], *, batch_size: int = 5000) -> int:
    """Bulk-write entries in the given order as the newest links (seeding); their created_at
    must not go back in time. Returns how many were written."""
    written = 0
    with transaction.atomic():
        _lock_chain()
        previous = _last_hash()
        batch: list[AuditEntry] = []
        for entry in entries:
            entry.previous_hash = previous
            entry.entry_hash = previous = entry_hash(_values(entry), previous)
            batch.append(entry)
            if len(batch) == batch_size:
                AuditEntry.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        AuditEntry.objects.bulk_create(batch)
        written += len(batch)
    return written


def first_broken_entry(*, chunk_size: int = 5000) -> int | None:
    """The id of the first entry whose hash does not match its content or whose link to the
    previous entry is broken; None when the whole chain holds."""
    previous = GENESIS
    rows = AuditEntry.objects.order_by("id").values(
        "id", "previous_hash", "entry_hash", *HASHED_FIELDS
    )
    for row in rows.iterator(chunk_size=chunk_size):
        if row["previous_hash"] != previous or entry_hash(row, previous) != row["entry_hash"]:
            return row["id"]
        previous = row["entry_hash"]
    return None
