"""One budget of calls to Phare per organization, shared by every console process.

Phare allows 100 calls a minute per organization, shared by all its keys
(https://docs.phare.io/api-reference/introduction). The console keeps under that with a
margin (PHARE_RATE_LIMIT calls in any 60 seconds) and keeps room for writes: reads such as
monitor syncs may use at most PHARE_RATE_LIMIT - PHARE_WRITE_RESERVE of a window, so creating
an incident never waits behind a sync. When Phare answers 429 anyway (another tool shares the
organization), the whole organization pauses for Retry-After plus a second, as Phare's own
Terraform provider does.

The budget lives in the database, or in Redis when REDIS_URL is set. The same store keeps
cooldowns (`claim_cooldown`): a key that may be used at most once every so many seconds, such
as a person pressing Refresh monitors.
"""

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import cache
from typing import Protocol

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from incidents.models import RateLimitBucket, RateLimitCall

WINDOW_SECONDS = 60.0


class CallKind(StrEnum):
    READ = "read"
    WRITE = "write"


class BudgetExhausted(Exception):
    """No call may be made within the caller's wait; `retry_after` says when one may."""

    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class RateBudget(Protocol):
    def try_acquire(self, key: str, kind: CallKind) -> float:
        """Count one call and return 0, or count nothing and return the seconds to wait."""

    def block(self, key: str, seconds: float) -> None:
        """Make every call under `key` wait `seconds` (after Phare's 429)."""

    def claim_cooldown(self, keys: list[str], seconds: float) -> float:
        """If none of `keys` is cooling down, start a cooldown of `seconds` on each and return
        0; otherwise change nothing and return the seconds until all of them are free."""


_KEY_LENGTH = RateLimitBucket._meta.get_field("key").max_length or 100


def stored_key(key: str) -> str:
    """The key as the database column and Redis hold it. Keys embed names chosen elsewhere
    (an organization's name may have 100 characters, "org:" comes on top), so one longer
    than the column is stored as its digest: still one budget per organization, never a
    database error."""
    if len(key) <= _KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _database_now() -> float:
    """Epoch seconds from the database server on PostgreSQL, so app servers with skewed
    clocks agree on the window (SQLite lives on this machine: its clock is ours)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
            return float(cursor.fetchone()[0])
    return time.time()


def _allowed(kind: CallKind) -> int:
    limit = settings.PHARE_RATE_LIMIT
    return limit if kind is CallKind.WRITE else max(1, limit - settings.PHARE_WRITE_RESERVE)


@contextmanager
def _commit_without_flush() -> Iterator[None]:
    """A transaction for the budget's own rows whose commit does not wait for the disk.
    Other processes see it at once, as always; a power cut may lose its last calls, which
    lets a few more calls through in that minute (Phare's own 429 still holds). It saves a
    flush on every create (SQLite's synchronous=NORMAL for this one commit, PostgreSQL's
    synchronous_commit off). Inside a caller's transaction nothing changes: its commit
    decides."""
    if connection.in_atomic_block or connection.vendor not in ("sqlite", "postgresql"):
        with transaction.atomic():
            yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            yield
        return
    # SQLite: the level is per connection and may only change outside a transaction.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        level = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA synchronous = NORMAL")
    try:
        with transaction.atomic():
            yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA synchronous = {level}")
        except DatabaseError:
            # Never leave a connection whose commits (audit entries) skip the flush: a new
            # connection starts with the level from settings.
            connection.close()
            raise


def _locked_bucket(key: str) -> tuple[int, float] | None:
    """The bucket's id and blocked_until, its row locked until the transaction ends (on SQLite
    the IMMEDIATE transaction already holds the write lock). Its three statements per call are
    written by hand: the ORM took longer to build them than the database to run them (table
    names from the models, never from input)."""
    buckets = connection.ops.quote_name(RateLimitBucket._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        sql = f"SELECT id, blocked_until FROM {buckets} WHERE key = %s{lock}"  # noqa: S608
        cursor.execute(sql, [key])
        return cursor.fetchone()


class DatabaseRateBudget:
    """A sliding window of call times per key, serialised by a row lock on the key's bucket
    (on SQLite, by the write lock that IMMEDIATE transactions take)."""

    # Calls older than the window are deleted once this many have piled up, not on every call
    # (one statement less per call; the table stays at most a window and this much long).
    PRUNE_AFTER = 50

    def try_acquire(self, key: str, kind: CallKind) -> float:
        key = stored_key(key)
        with _commit_without_flush():
            bucket = _locked_bucket(key)
            if bucket is not None:
                return self._count_call(bucket, kind)
        # The organization's first call: its bucket (another process may be creating it
        # too), then the same again.
        RateLimitBucket.objects.get_or_create(key=key)
        return self.try_acquire(key, kind)

    def _count_call(self, bucket: tuple[int, float], kind: CallKind) -> float:
        """Under the bucket's lock (its id and blocked_until): count one call and return 0, or
        the seconds to wait."""
        bucket_id, blocked_until = bucket
        now = _database_now()
        if blocked_until > now:
            return blocked_until - now
        window_start = now - WINDOW_SECONDS
        calls = connection.ops.quote_name(RateLimitCall._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT at FROM {calls} WHERE bucket_id = %s", [bucket_id])  # noqa: S608
            times = [at for (at,) in cursor.fetchall()]
            recent = sorted(at for at in times if at > window_start)
            if len(times) - len(recent) >= self.PRUNE_AFTER:
                cursor.execute(
                    f"DELETE FROM {calls} WHERE bucket_id = %s AND at <= %s",  # noqa: S608
                    [bucket_id, window_start],
                )
            allowed = _allowed(kind)
            if len(recent) < allowed:
                sql = f"INSERT INTO {calls} (bucket_id, at) VALUES (%s, %s)"  # noqa: S608
                cursor.execute(sql, [bucket_id, now])
                return 0.0
        # Wait until enough of the window's calls have aged out.
        return max(0.001, recent[len(recent) - allowed] + WINDOW_SECONDS - now)

    def block(self, key: str, seconds: float) -> None:
        key = stored_key(key)
        RateLimitBucket.objects.get_or_create(key=key)
        with transaction.atomic():
            bucket = RateLimitBucket.objects.select_for_update().get(key=key)
            bucket.blocked_until = max(bucket.blocked_until, _database_now() + seconds)
            bucket.save(update_fields=["blocked_until"])

    def claim_cooldown(self, keys: list[str], seconds: float) -> float:
        """A cooldown is a bucket's `blocked_until`; its rows are locked in key order so two
        claims sharing a key never deadlock."""
        stored = sorted({stored_key(key) for key in keys})
        for key in stored:
            RateLimitBucket.objects.get_or_create(key=key)
        with transaction.atomic():
            buckets = list(
                RateLimitBucket.objects.select_for_update().filter(key__in=stored).order_by("key")
            )
            now = _database_now()
            wait = max(bucket.blocked_until - now for bucket in buckets)
            if wait > 0:
                return wait
            RateLimitBucket.objects.filter(key__in=stored).update(blocked_until=now + seconds)
            return 0.0


# Atomic in Redis: drop calls older than the window, then count one more if there is room.
# Times come from the Redis server, so app servers with skewed clocks agree.
_ACQUIRE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local window = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local blocked_ms = redis.call('PTTL', KEYS[2])
if blocked_ms > 0 then return tostring(blocked_ms / 1000) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < allowed then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], count - allowed, count - allowed, 'WITHSCORES')
return tostring(math.max(0.001, tonumber(oldest[2]) + window - now))
"""


# Lengthen the block, never shorten it, in one step.
_BLOCK_SCRIPT = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
end
return 1
"""


# Every key free: set them all for ARGV[1] ms and answer 0; else the longest wait, in seconds.
_COOLDOWN_SCRIPT = """
local longest = 0
for _, key in ipairs(KEYS) do
  longest = math.max(longest, redis.call('PTTL', key))
end
if longest > 0 then return tostring(longest / 1000) end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, 1, 'PX', ARGV[1])
end
return '0'
"""


class RedisRateBudget:
    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._acquire = self._redis.register_script(_ACQUIRE_SCRIPT)
        self._block = self._redis.register_script(_BLOCK_SCRIPT)
        self._cooldown = self._redis.register_script(_COOLDOWN_SCRIPT)

    @staticmethod
    def _keys(key: str) -> list[str]:
        key = stored_key(key)
        return [f"phare-console:rate:{key}:calls", f"phare-console:rate:{key}:blocked"]

    def try_acquire(self, key: str, kind: CallKind) -> float:
        wait = self._acquire(
            keys=self._keys(key), args=[WINDOW_SECONDS, _allowed(kind), uuid.uuid4().hex]
        )
        return float(wait)

    def block(self, key: str, seconds: float) -> None:
        self._block(keys=[self._keys(key)[1]], args=[int(seconds * 1000)])

    def claim_cooldown(self, keys: list[str], seconds: float) -> float:
        blocked = sorted({self._keys(key)[1] for key in keys})
        return float(self._cooldown(keys=blocked, args=[max(1, int(seconds * 1000))]))


@cache
def _budget_for(redis_url: str) -> RateBudget:
    return RedisRateBudget(redis_url) if redis_url else DatabaseRateBudget()


def budget() -> RateBudget:
    return _budget_for(settings.REDIS_URL)


def claim_cooldown(keys: list[str], seconds: float) -> float:
    """0 when an action guarded by `keys` may go ahead now (each key then cools down for
    `seconds`), else the seconds until it may."""
    if seconds <= 0:
        return 0.0
    return budget().claim_cooldown(keys, seconds)


def acquire(
    key: str,
    kind: CallKind,
    *,
    max_wait: float,
    on_wait: Callable[[float], None] | None = None,
) -> float:
    """Wait until a call under `key` fits the budget, at most `max_wait` seconds; return how
    long it waited. Raises BudgetExhausted, counting nothing, when it would wait longer.
    `on_wait(seconds)` hears about each pause before it starts."""
    started = time.monotonic()
    while True:
        wait = budget().try_acquire(key, kind)
        if wait <= 0:
            return time.monotonic() - started
        if time.monotonic() - started + wait > max_wait:
            raise BudgetExhausted(wait)
        if on_wait is not None:
            on_wait(wait)
        time.sleep(wait)
