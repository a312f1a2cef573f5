"""A separate console process spending the shared rate budget (tests/test_ratelimit.py).

Started with multiprocessing's "spawn", so it shares no connection with the test process.
"""

import os


def spend(backend: str, database_name: str, limit: int, reserve: int, barrier, results) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phare_console.test_settings")
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = database_name
    settings.PHARE_RATE_LIMIT, settings.PHARE_WRITE_RESERVE = limit, reserve

    from incidents.ratelimit import CallKind, DatabaseRateBudget, RedisRateBudget

    budget = RedisRateBudget(settings.REDIS_URL) if backend == "redis" else DatabaseRateBudget()
    budget.try_acquire("org:warm-up", CallKind.READ)  # connected before the race starts
    barrier.wait(timeout=60)  # every process spends at the same moment
    granted = 0
    for index in range(20):
        kind = CallKind.WRITE if index % 2 else CallKind.READ
        granted += budget.try_acquire("org:shared", kind) == 0
    results.put(granted)
