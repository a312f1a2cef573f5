"""Incident list benchmark (issue: after the declaration).

    python bench/incident_list.py            # or: make bench-incidents

Per database (SQLite, and PostgreSQL at BENCH_INCIDENTS_POSTGRES_URL), in a fresh database:
puts COUNT incidents (a tenth ongoing, on 200 monitors) into the console's copy, then measures
through Django's test client (production settings, a responder) the median of RUNS requests
for the list's first page, a filtered page (recovered, one impact, one monitor, a word of the
title), a page deep in the list (by cursor), and one incident's page. The copy counts as fresh,
so no request calls Phare. Prints a table and writes it into BENCHMARKS.md.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ensure_postgres_database,
    machine,
    postgres_available,
    setup_django,
    write_benchmarks,
)

COUNT = 2000
RUNS = 30
MONITORS = 200
POSTGRES_URL = os.environ.get(
    "BENCH_INCIDENTS_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench_incidents"
)
WORDS = ["checkout", "search", "login", "payments", "database", "latency", "api", "cdn"]
IMPACTS = ["degraded_performance", "partial_outage", "major_outage", "maintenance"]


def median_ms(client, path: str, query: dict) -> float:
    for _ in range(3):
        client.get(path, query)  # warm-up
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path, query)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(timings)


def seed(project, count: int) -> None:
    from django.utils import timezone

    from incidents.models import Monitor, PhareIncident, PhareIncidentUpdate

    now = timezone.now()
    Monitor.objects.bulk_create(
        Monitor(
            project=project,
            phare_id=number,
            name=f"{random.choice(WORDS)} monitor {number}",
            status="online",
            synced_at=now,
            search_name=f"monitor {number}",
        )
        for number in range(1, MONITORS + 1)
    )
    incidents = []
    random.seed(7)
    for number in range(1, count + 1):
        ongoing = number % 10 == 0
        started = now - timedelta(minutes=number * 37)
        incident = PhareIncident(
            project=project,
            phare_id=number,
            slug=f"APP-{number}",
            type="monitor" if number % 4 == 0 else "manual",
            title=f"{random.choice(WORDS).title()} {random.choice(WORDS)} incident {number}",
            impact=random.choice(IMPACTS),
            status="ongoing" if ongoing else "recovered",
            state="investigating" if ongoing else "resolved",
            monitors=random.sample(range(1, MONITORS + 1), 3),
            incident_at=started,
            recovery_at=None if ongoing else started + timedelta(minutes=25),
            phare_created_at=started,
            phare_updated_at=started,
            read_at=now,
            timeline_read_at=now,
        )
        incident.fill_derived_fields()
        incidents.append(incident)
    PhareIncident.objects.bulk_create(incidents, batch_size=500)
    first = PhareIncident.objects.get(project=project, phare_id=10)
    PhareIncidentUpdate.objects.bulk_create(
        PhareIncidentUpdate(
            incident=first,
            phare_id=n,
            state="identified",
            content=f"Update {n}",
            published_at=now - timedelta(minutes=n),
        )
        for n in range(1, 21)
    )


def run_leg(database_url: str, count: int) -> dict:
    setup_django(database_url, HTTPS="false", ALLOWED_HOSTS="testserver")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from incidents.incident_search import Cursor
    from incidents.models import Membership, PhareIncident, PhareProject

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    now = timezone.now()
    # The copy is fresh: the list reads no page of Phare during the benchmark.
    project = PhareProject.objects.create(
        name="Bench",
        slug="bench",
        incidents_first_page_read_at=now + timedelta(days=1),
        incidents_read_at=now + timedelta(days=1),
    )
    started = time.monotonic()
    seed(project, count)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    result = {"seed_s": time.monotonic() - started}
    user = get_user_model().objects.create_user("oncall")
    Membership.objects.create(project=project, user=user, role="responder")
    client = Client()
    client.force_login(user)
    path = reverse("incidents:incident_list", kwargs={"slug": project.slug})
    ordered = PhareIncident.objects.filter(project=project).order_by(
        "status_rank", "-started_at", "-phare_id"
    )
    deep = Cursor.of(ordered[count * 9 // 10]).encode()
    queries = {
        "first_page": {},
        "filtered": {"status": "recovered", "impact": "major_outage", "q": "checkout"},
        "by_monitor": {"monitor": "17"},
        "deep_page": {"before": deep},
    }
    for name, query in queries.items():
        result[f"{name}_ms"] = median_ms(client, path, query)
    detail = reverse("incidents:incident_detail", kwargs={"slug": "bench", "incident_id": 10})
    result["detail_ms"] = median_ms(client, detail, {})
    result["live_ms"] = median_ms(client, detail, {"live": "1"})
    result["database"] = connection.vendor
    return result


def report(legs: list[dict], count: int) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {date} on {machine()}; {count:,} incidents in the copy (a tenth ongoing, "
        f"three of {MONITORS} monitors each); medians of {RUNS} requests through Django's test "
        "client (production settings, a responder, 50 incidents a page), after warm-up; no "
        "call to Phare.",
        "",
        "| measure | goal | " + " | ".join(leg["database"] for leg in legs) + " |",
        "|---|---|" + "---|" * len(legs),
    ]

    def row(label: str, goal: str, key: str) -> None:
        cells = [f"{leg[key]:,.1f} ms" if key in leg else "—" for leg in legs]
        lines.append(f"| {label} | {goal} | " + " | ".join(cells) + " |")

    row("list, first page", "≤ 30 ms", "first_page_ms")
    row("list, filtered (recovered, major outage, “checkout”)", "≤ 30 ms", "filtered_ms")
    row("list, one monitor", "≤ 30 ms", "by_monitor_ms")
    row("list, a page 90 % deep (cursor)", "≤ 30 ms", "deep_page_ms")
    row("one incident's page (20 updates)", "", "detail_ms")
    row("its polled part (`?live=1`, full request)", "", "live_ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--leg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leg:
        print(json.dumps(run_leg(args.leg, args.count)))
        return
    legs = []
    with tempfile.TemporaryDirectory() as folder:
        databases = [f"sqlite:///{folder}/incidents.sqlite3"]
        if postgres_available(POSTGRES_URL):
            ensure_postgres_database(POSTGRES_URL, fresh=True)
            databases.append(POSTGRES_URL)
        else:
            print(f"PostgreSQL not available at {POSTGRES_URL}: SQLite only", file=sys.stderr)
        for url in databases:
            print(f"{url.split(':')[0]}: {args.count:,} incidents…", file=sys.stderr)
            output = subprocess.run(
                [sys.executable, __file__, "--leg", url, "--count", str(args.count)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            legs.append(json.loads(output.strip().splitlines()[-1]))
    section = report(legs, args.count)
    print(section)
    if not args.no_write:
        write_benchmarks(
            section,
            marker="incident-list",
            heading="Incident list (`make bench-incidents`, bench/incident_list.py)",
        )


if __name__ == "__main__":
    main()
