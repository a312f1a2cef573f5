"""The shared budget of calls to Phare: reads leave room for writes, 429s pause everyone,
two processes never overspend it together, keys of any length fit, and cooldowns."""

import multiprocessing
import os
import time

import pytest
from django.db import connection, transaction

from incidents import ratelimit
from incidents.models import RateLimitBucket, RateLimitCall
from incidents.ratelimit import CallKind, DatabaseRateBudget, RedisRateBudget
from tests.ratelimit_worker import spend

# Committed rows, so that other processes see them.
pytestmark = pytest.mark.django_db(transaction=True)
LIMIT, RESERVE = 5, 2  # reads may use 3 calls of a window, writes all 5


@pytest.fixture(autouse=True)
def small_budget(settings):
    settings.PHARE_RATE_LIMIT = LIMIT
    settings.PHARE_WRITE_RESERVE = RESERVE


@pytest.fixture(params=["database", "redis"])
def budget(request, settings):
    if request.param == "redis":
        if not settings.REDIS_URL:
            if os.environ.get("REQUIRE_REDIS"):
                pytest.fail("Redis leg required (REQUIRE_REDIS is set) but REDIS_URL is empty")
            pytest.skip("REDIS_URL is not set")
        return RedisRateBudget(settings.REDIS_URL)
    return DatabaseRateBudget()


def test_reads_leave_the_reserve_to_writes(budget):
    assert [budget.try_acquire("org:a", CallKind.READ) for _ in range(3)] == [0, 0, 0]
    assert budget.try_acquire("org:a", CallKind.READ) > 55  # waits for the window to move
    assert budget.try_acquire("org:a", CallKind.WRITE) == 0
    assert budget.try_acquire("org:a", CallKind.WRITE) == 0
    assert budget.try_acquire("org:a", CallKind.WRITE) > 55


def test_budgets_are_per_organization(budget):
    for _ in range(3):
        budget.try_acquire("org:a", CallKind.READ)
    assert budget.try_acquire("org:b", CallKind.READ) == 0


def test_block_pauses_every_call_of_the_organization(budget):
    budget.block("org:a", 30)
    assert 28 < budget.try_acquire("org:a", CallKind.WRITE) <= 30
    assert budget.try_acquire("org:b", CallKind.WRITE) == 0


def test_acquire_refuses_rather_than_waiting_too_long(budget, monkeypatch):
    monkeypatch.setattr(ratelimit, "budget", lambda: budget)
    for _ in range(3):
        ratelimit.acquire("org:a", CallKind.READ, max_wait=0)
    with pytest.raises(ratelimit.BudgetExhausted) as caught:
        ratelimit.acquire("org:a", CallKind.READ, max_wait=1)
    assert caught.value.retry_after > 55
    assert budget.try_acquire("org:a", CallKind.WRITE) == 0  # the refusal counted nothing


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_share_one_budget(budget, processes):
    backend = "redis" if isinstance(budget, RedisRateBudget) else "database"
    context = multiprocessing.get_context("spawn")
    results, barrier = context.Queue(), context.Barrier(processes)
    args = (backend, connection.settings_dict["NAME"], LIMIT, RESERVE, barrier, results)
    workers = [context.Process(target=spend, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    granted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    # Reads and writes mixed: never more than the whole limit, however the race goes.
    assert sum(granted) == LIMIT, granted


# An organization's name may have 100 characters; "org:" comes on top.
LONG_KEY = "org:" + "n" * 100
LONG_KEY_TOO = "org:" + "n" * 99 + "m"  # the same first 100 characters


def test_a_key_longer_than_the_column_gets_its_own_budget(budget):
    assert [budget.try_acquire(LONG_KEY, CallKind.READ) for _ in range(3)] == [0, 0, 0]
    assert budget.try_acquire(LONG_KEY, CallKind.READ) > 55
    assert budget.try_acquire(LONG_KEY_TOO, CallKind.READ) == 0  # not cut to the same key
    budget.block(LONG_KEY, 30)
    assert 28 < budget.try_acquire(LONG_KEY, CallKind.WRITE) <= 30
    max_length = RateLimitBucket._meta.get_field("key").max_length
    stored = RateLimitBucket.objects.values_list("key", flat=True)
    assert all(len(key) <= max_length for key in stored)


def test_the_database_and_redis_derive_long_keys_alike():
    stored = ratelimit.stored_key(LONG_KEY)
    assert stored.startswith("sha256:") and len(stored) <= 100
    assert ratelimit.stored_key(LONG_KEY_TOO) != stored
    assert ratelimit.stored_key("org:acme") == "org:acme"  # short keys are kept as they are
    assert RedisRateBudget._keys(LONG_KEY) == [
        f"phare-console:rate:{stored}:calls",
        f"phare-console:rate:{stored}:blocked",
    ]


def test_a_project_of_an_organization_with_a_100_character_name_may_call(project, sandbox):
    project.organization = "o" * 100
    project.save(update_fields=["organization"])
    ratelimit.acquire(project.rate_limit_key, CallKind.READ, max_wait=0)
    assert ratelimit.budget().try_acquire(project.rate_limit_key, CallKind.READ) == 0
    assert not RateLimitBucket.objects.filter(key__startswith="org:").exists()  # the digest


def test_a_cooldown_refuses_until_it_ends_and_changes_nothing_when_refused(budget):
    assert budget.claim_cooldown(["cool:a", "cool:b"], 30) == 0
    assert 28 < budget.claim_cooldown(["cool:a"], 30) <= 30
    assert 28 < budget.claim_cooldown(["cool:c", "cool:b"], 30) <= 30  # any key refuses...
    assert budget.claim_cooldown(["cool:c"], 30) == 0  # ...and the refusal claimed none
    assert budget.claim_cooldown([LONG_KEY], 30) == 0
    assert budget.claim_cooldown([LONG_KEY], 30) > 28
    assert budget.try_acquire("cool:other", CallKind.READ) == 0  # budgets are not touched


def test_a_cooldown_ends(budget):
    assert budget.claim_cooldown(["cool:short"], 0.2) == 0
    assert budget.claim_cooldown(["cool:short"], 0.2) > 0
    time.sleep(0.3)
    assert budget.claim_cooldown(["cool:short"], 0.2) == 0


def _flush_setting() -> str:
    """Whether this connection's commits wait for the disk: SQLite's synchronous level
    (2 = FULL), PostgreSQL's synchronous_commit."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW synchronous_commit")
        else:
            cursor.execute("PRAGMA synchronous")
        return str(cursor.fetchone()[0])


DURABLE = {"sqlite": "2", "postgresql": "on"}
NOT_FLUSHED = {"sqlite": "1", "postgresql": "off"}


def test_the_budget_commit_skips_the_flush_and_leaves_the_connection_durable(monkeypatch):
    seen = []
    count_call = DatabaseRateBudget._count_call

    def noting(self, bucket, kind):
        seen.append(_flush_setting())
        return count_call(self, bucket, kind)

    monkeypatch.setattr(DatabaseRateBudget, "_count_call", noting)
    assert _flush_setting() == DURABLE[connection.vendor]
    assert DatabaseRateBudget().try_acquire("org:a", CallKind.WRITE) == 0
    assert seen == [NOT_FLUSHED[connection.vendor]]
    # The audit entries' commits that follow on this connection wait for the disk again.
    assert _flush_setting() == DURABLE[connection.vendor]


def test_inside_a_callers_transaction_the_budget_leaves_its_commit_alone(monkeypatch):
    seen = []
    count_call = DatabaseRateBudget._count_call

    def noting(self, bucket, kind):
        seen.append(_flush_setting())
        return count_call(self, bucket, kind)

    monkeypatch.setattr(DatabaseRateBudget, "_count_call", noting)
    DatabaseRateBudget().try_acquire("org:a", CallKind.WRITE)  # the bucket exists
    with transaction.atomic():
        assert DatabaseRateBudget().try_acquire("org:a", CallKind.WRITE) == 0
    assert seen[-1] == DURABLE[connection.vendor]


def test_calls_out_of_the_window_are_pruned_in_batches_and_never_counted():
    budget = DatabaseRateBudget()
    budget.try_acquire("org:a", CallKind.WRITE)
    bucket = RateLimitBucket.objects.get(key="org:a")
    long_ago = time.time() - 120
    few = DatabaseRateBudget.PRUNE_AFTER - 1
    RateLimitCall.objects.bulk_create(RateLimitCall(bucket=bucket, at=long_ago) for _ in range(few))
    # Old calls below the batch size stay, but count for nothing: 4 more writes fit.
    assert [budget.try_acquire("org:a", CallKind.WRITE) for _ in range(4)] == [0, 0, 0, 0]
    assert budget.try_acquire("org:a", CallKind.WRITE) > 55
    assert RateLimitCall.objects.filter(at=long_ago).count() == few
    RateLimitCall.objects.create(bucket=bucket, at=long_ago)
    budget.try_acquire("org:a", CallKind.WRITE)  # a full batch: deleted
    assert not RateLimitCall.objects.filter(at=long_ago).exists()
    assert RateLimitCall.objects.filter(bucket=bucket).count() == LIMIT
