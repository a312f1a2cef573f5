"""A separate console process spending the shared rate budget (tests/test_ratelimit.py).

Started with multiprocessing's "spawn", so it shares no connection with the test process.
"""

import os


def spend(backend: str, database_name: str, limit: int, reserve: int, results) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phare_console.test_settings")
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = database_name
    settings.PHARE_RATE_LIMIT, settings.PHARE_WRITE_RESERVE = limit, reserve

    from incidents.ratelimit import CallKind, DatabaseRateBudget, RedisRateBudget

    budget = RedisRateBudget(settings.REDIS_URL) if backend == "redis" else DatabaseRateBudget()
    results.put(sum(budget.try_acquire("org:shared", CallKind.READ) == 0 for _ in range(20)))
