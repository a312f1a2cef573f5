"""Monitor picker benchmark (issue: picker instant with 10,000 monitors, inside Phare's limit;
issue 14: search median <= 10 ms and form GET median <= 15 ms on SQLite and PostgreSQL).

    python bench/picker.py            # or: make bench
    python bench/picker.py --no-limited-sync   # searches and form GETs only, nothing written

Starts the Phare sandbox with 10,000 monitors and 20 ms latency, then, per database (SQLite,
and PostgreSQL when one answers at BENCH_POSTGRES_URL), measures through Django:
  - a full sync with Phare's limit off (time, calls);
  - warm search requests and project page (incident form) GETs with 10,000 mirrored monitors,
    after VACUUM ANALYZE on PostgreSQL: the syncs leave 20,000 dead rows and no statistics,
    which autovacuum clears in production within a minute (it may be off on a test machine);
  - searches of one character (matching nearly every monitor), for the record;
  - the bytes of one search response;
  - a full sync with the 100-a-minute limit on while a create is submitted every 5 s.
Prints a table and writes it into BENCHMARKS.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ensure_postgres_database,
    machine,
    percentile,
    postgres_available,
    setup_django,
    write_benchmarks,
)

MONITORS = 10_000
LATENCY_MS = 20
SYNC_RUNS = 3
SEARCH_RUNS = 300
FORM_RUNS = 200
QUERIES = ["api", "checkout", "eu", "tcp", "www", "db", "42", "payments", "auth", "worker"]
BROAD_QUERIES = ["a", "e", "i", "o", "s"]
BROAD_RUNS = 100
SEARCH_GOAL_MS, FORM_GOAL_MS = 10, 15
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench"
)
TOKEN = "pha_bench_token_0001"


def timed_ms(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def run_database_leg(database_url: str, *, limited_sync: bool = True) -> dict:
    """Everything measured on one database, in this process (Django settings are global)."""
    setup_django(database_url, MONITOR_SYNC_IN_BACKGROUND="false")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from incidents import services
    from incidents.models import Membership
    from phare_sandbox import SandboxState, start_in_thread

    call_command("flush", "--noinput", verbosity=0) if _has_tables() else None
    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # production static files
    sandbox = start_in_thread(
        SandboxState(token=TOKEN, monitor_count=MONITORS, latency_ms=LATENCY_MS, rate_limit=None)
    )
    settings.PHARE_API_URL = sandbox.url
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    project, _ = services.project_provision(name="Bench", token=TOKEN)
    Membership.objects.create(project=project, user=user, role=Membership.Role.RESPONDER)
    result: dict = {"database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]}

    # 1. Full syncs into an empty copy, Phare's limit off and the console's budget out of the way.
    settings.PHARE_RATE_LIMIT = 1_000_000
    durations, calls = [], []
    for _ in range(SYNC_RUNS):
        project.monitors.all().delete()
        sandbox.state.request_log.clear()
        started = time.perf_counter()
        synced = services.monitor_sync(actor=None, project=project)
        durations.append(time.perf_counter() - started)
        calls.append(len(sandbox.state.request_log))
    result["sync_unlimited_s"] = statistics.median(durations)
    result["sync_unlimited_calls"] = statistics.median(calls)
    result["mirrored"] = synced.total
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE incidents_monitor")

    # 2. Warm searches and form GETs through Django (middleware, view, templates).
    client = Client()
    client.force_login(user)
    search_url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    # secure=True: production answers plain HTTP with a redirect to HTTPS.
    headers = {"HTTP_HX_REQUEST": "true", "secure": True}
    for query in QUERIES:  # warm-up, and a check that we measure real pages
        assert client.get(search_url, {"q": query}, **headers).status_code == 200
    search_ms = [
        timed_ms(lambda q=QUERIES[i % len(QUERIES)]: client.get(search_url, {"q": q}, **headers))
        for i in range(SEARCH_RUNS)
    ]
    result["search_median_ms"] = statistics.median(search_ms)
    result["search_p95_ms"] = percentile(search_ms, 0.95)
    result["search_bytes"] = len(client.get(search_url, {"q": "api"}, **headers).content)
    broad_ms = [
        timed_ms(
            lambda q=BROAD_QUERIES[i % len(BROAD_QUERIES)]: client.get(
                search_url, {"q": q}, **headers
            )
        )
        for i in range(BROAD_RUNS)
    ]
    result["broad_search_median_ms"] = statistics.median(broad_ms)
    calls_before = len(sandbox.state.request_log)
    form_url = project.get_absolute_url()
    assert client.get(form_url, secure=True).status_code == 200
    form_ms = [timed_ms(lambda: client.get(form_url, secure=True)) for _ in range(FORM_RUNS)]
    result["form_median_ms"] = statistics.median(form_ms)
    result["form_p95_ms"] = percentile(form_ms, 0.95)
    form_calls = sandbox.state.request_log[calls_before:]
    result["form_monitor_calls"] = sum(1 for line in form_calls if "/uptime/monitors" in line)
    # The duplicate check's read of Phare's recent incidents: at most one a minute.
    result["form_other_calls"] = len(form_calls) - result["form_monitor_calls"]
    result["form_bytes"] = len(client.get(form_url, secure=True).content)

    if limited_sync:
        result.update(_limited_sync_with_creates(sandbox, project, user, services, settings))
    sandbox.stop()
    return result


def _has_tables() -> bool:
    from django.db import connection

    return "incidents_phareproject" in connection.introspection.table_names()


def _limited_sync_with_creates(sandbox, project, user, services, settings) -> dict:
    """Phare's 100-a-minute limit on, console defaults, a create every 5 s during a full sync."""
    from django.db import connection

    from incidents.models import RateLimitCall
    from incidents.phare import IncidentPayload, PhareError

    settings.PHARE_RATE_LIMIT, settings.PHARE_WRITE_RESERVE = 90, 20  # the shipped defaults
    sandbox.state.rate_limit = 100

    def fresh_minute() -> None:
        """Same monitors; Phare's and the console's windows both empty."""
        sandbox.state.reset()
        RateLimitCall.objects.all().delete()

    fresh_minute()

    def create(title: str) -> tuple[float, str]:
        started = time.perf_counter()
        try:
            services.incident_create(
                actor=user,
                project=project,
                payload=IncidentPayload(impact="unknown", title=title, exclude_from_downtime=False),
                submission_key=uuid.uuid4(),
            )
            outcome = "created"
        except PhareError as error:
            outcome = f"{type(error).__name__} ({error.status or 'refused by the console'})"
        return (time.perf_counter() - started) * 1000, outcome

    idle = [create(f"idle {index}")[0] for index in range(5)]
    fresh_minute()
    creates: list[tuple[float, str]] = []
    done = threading.Event()

    def submit_every_5s() -> None:
        index = 0
        while not done.wait(5.0 if index else 0.5):
            creates.append(create(f"during sync {index}"))
            index += 1
        connection.close()

    submitter = threading.Thread(target=submit_every_5s)
    submitter.start()
    started = time.perf_counter()
    services.monitor_sync(actor=None, project=project)
    elapsed = time.perf_counter() - started
    done.set()
    submitter.join()
    latencies = [latency for latency, outcome in creates if outcome == "created"]
    return {
        "limited_sync_s": elapsed,
        "limited_sync_calls": sum(
            1 for line in sandbox.state.request_log if line.startswith("GET /uptime/monitors")
        ),
        "limited_creates": len(creates),
        "limited_creates_ok": len(latencies),
        "limited_create_failures": sorted({o for _, o in creates if o != "created"}),
        "limited_create_idle_median_ms": statistics.median(idle),
        "limited_create_median_ms": statistics.median(latencies) if latencies else None,
        "limited_create_max_ms": max(latencies) if latencies else None,
    }


def report(legs: list[dict]) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {date} on {machine()}; sandbox with {MONITORS:,} monitors and {LATENCY_MS} ms "
        f"latency per request; medians of {SEARCH_RUNS} searches (typed text: "
        f"{', '.join(QUERIES)}), {BROAD_RUNS} one-character searches and {FORM_RUNS} project "
        "page GETs (the incident form, empty search) through Django's test client, after "
        "warm-up.",
        "",
        "| measure | goal | " + " | ".join(leg["database"] for leg in legs) + " |",
        "|---|---|" + "---|" * len(legs),
    ]

    def row(label: str, goal: str, key: str, unit: str = "", digits: int = 1) -> None:
        cells = []
        for leg in legs:
            value = leg.get(key)
            cells.append("—" if value is None else f"{value:,.{digits}f}{unit}")
        lines.append(f"| {label} | {goal} | " + " | ".join(cells) + " |")

    row(
        f"full sync, Phare's limit off: time (median of {SYNC_RUNS})",
        "",
        "sync_unlimited_s",
        " s",
        2,
    )
    row("full sync, Phare's limit off: calls", "101 is the floor", "sync_unlimited_calls", "", 0)
    row("monitors mirrored", "", "mirrored", "", 0)
    row("warm search: median", f"≤ {SEARCH_GOAL_MS} ms", "search_median_ms", " ms")
    row("warm search: p95", "", "search_p95_ms", " ms")
    row("one-character search: median", "", "broad_search_median_ms", " ms")
    row("search response body", "", "search_bytes", " B", 0)
    row("incident form GET: median", f"≤ {FORM_GOAL_MS} ms", "form_median_ms", " ms")
    row("incident form GET: p95", "", "form_p95_ms", " ms")
    row("incident form GET: reads of Phare's monitors", "0", "form_monitor_calls", "", 0)
    row(
        "incident form GET: other calls to Phare (recent incidents, ≤ 1 a minute)",
        "",
        "form_other_calls",
        "",
        0,
    )
    row("incident form page body", "", "form_bytes", " B", 0)
    lines += ["", _goals(legs)]
    if "limited_sync_s" not in legs[0]:
        return "\n".join(lines)
    lines += [
        "",
        "Full sync with Phare's limit on (100 calls a minute), the console's defaults "
        "(PHARE_RATE_LIMIT=90, PHARE_WRITE_RESERVE=20) and a create submitted every 5 s "
        "during it:",
        "",
        "| measure | goal | " + " | ".join(leg["database"] for leg in legs) + " |",
        "|---|---|" + "---|" * len(legs),
    ]
    row("sync time", "", "limited_sync_s", " s")
    row("sync calls", "", "limited_sync_calls", "", 0)
    row("creates submitted", "", "limited_creates", "", 0)
    row("creates created", "all", "limited_creates_ok", "", 0)
    lines.append(
        "| create failures | none | "
        + " | ".join(", ".join(leg["limited_create_failures"]) or "none" for leg in legs)
        + " |"
    )
    row("create latency idle: median", "", "limited_create_idle_median_ms", " ms", 0)
    row("create latency during the sync: median", "", "limited_create_median_ms", " ms", 0)
    row("create latency during the sync: max", "", "limited_create_max_ms", " ms", 0)
    return "\n".join(lines)


def _goals(legs: list[dict]) -> str:
    verdicts = []
    for label, key, goal in (
        ("search median", "search_median_ms", SEARCH_GOAL_MS),
        ("form GET median", "form_median_ms", FORM_GOAL_MS),
    ):
        for leg in legs:
            met = "met" if leg[key] <= goal else "**missed**"
            verdicts.append(f"{label} ≤ {goal} ms on {leg['database']}: {met}")
    return "Goals (issue 14): " + "; ".join(verdicts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leg", help=argparse.SUPPRESS)  # DATABASE_URL of one leg (internal)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--no-limited-sync",
        action="store_true",
        help="skip the minute-long sync under Phare's limit (implies --no-write)",
    )
    args = parser.parse_args()
    if args.leg:
        print(json.dumps(run_database_leg(args.leg, limited_sync=not args.no_limited_sync)))
        return
    databases = []
    with tempfile.TemporaryDirectory() as folder:
        databases.append(f"sqlite:///{folder}/bench.sqlite3")
        if postgres_available(POSTGRES_URL):
            ensure_postgres_database(POSTGRES_URL)
            databases.append(POSTGRES_URL)
        else:
            print(f"PostgreSQL not available at {POSTGRES_URL}: SQLite only", file=sys.stderr)
        legs = []
        for url in databases:
            command = [sys.executable, __file__, "--leg", url]
            command += ["--no-limited-sync"] if args.no_limited_sync else []
            print(f"running {url.split(':')[0]} leg…", file=sys.stderr)
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            legs.append(json.loads(output.strip().splitlines()[-1]))
    section = report(legs)
    print(section)
    if not (args.no_write or args.no_limited_sync):
        write_benchmarks(
            section, marker="picker", heading="Monitor picker (`make bench`, bench/picker.py)"
        )


if __name__ == "__main__":
    main()
