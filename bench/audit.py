"""Audit log benchmark (issue: an audit log people can trust and search).

    python bench/audit.py            # or: make bench-audit
    python bench/audit.py --count 100000 --no-write   # a quicker look

Per database (SQLite, and PostgreSQL at BENCH_AUDIT_POSTGRES_URL), in a fresh database:
seeds COUNT entries with seed_audit, then measures through Django's test client (production
settings) the median of RUNS requests for: the first page, a page deep in the history (the
cursor of entry 900,000, newest first) beside the same page with OFFSET, each filter and free
text; then streams the CSV export of every entry in a separate process (rows/s, peak memory)
and times verify_audit_log. Prints a table and writes it into BENCHMARKS.md.
"""

import argparse
import io
import json
import os
import resource
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

COUNT = 1_000_000
RUNS = 15
DEEP = 900_000
# Production settings refuse to start without the audit chain's key (any key will do here).
AUDIT_CHAIN_KEY = "bench-audit-chain-key-not-for-production-0123"
POSTGRES_URL = os.environ.get(
    "BENCH_AUDIT_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench_audit"
)


def median_ms(client, path: str, query: dict) -> float:
    for _ in range(2):
        client.get(path, query)  # warm-up
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path, query)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(timings)


def run_leg(database_url: str, count: int) -> dict:
    setup_django(database_url, HTTPS="false", AUDIT_CHAIN_KEY=AUDIT_CHAIN_KEY)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from incidents.audit_search import Cursor
    from incidents.models import AuditEntry, PhareProject

    call_command("migrate", "--noinput", verbosity=0)
    for number in range(3):
        PhareProject.objects.create(name=f"Project {number}", slug=f"project-{number}")
    root = get_user_model().objects.create_superuser("root")
    out = io.StringIO()
    started = time.monotonic()
    call_command("seed_audit", "--count", str(count), "--days", "730", stdout=out)
    result = {"seed_s": time.monotonic() - started, "entries": AuditEntry.objects.count()}
    deep = min(DEEP, count - 60)
    result["deep"] = deep
    client = Client()
    client.force_login(root)
    path = reverse("incidents:audit_list")
    newest_first = AuditEntry.objects.order_by("-created_at", "-id")

    started = time.perf_counter()
    deep_entry = newest_first.only("created_at", "id")[deep]
    result["deep_cursor_lookup_ms"] = (time.perf_counter() - started) * 1000
    cursor = Cursor.of(deep_entry).encode()
    offset_timings = []
    for _ in range(5):
        started = time.perf_counter()
        list(newest_first.select_related("project")[deep : deep + 50])
        offset_timings.append((time.perf_counter() - started) * 1000)
    result["offset_page_ms"] = statistics.median(offset_timings)

    middle_day = (datetime.now(UTC) - timedelta(days=365)).date().isoformat()
    slug = AuditEntry.objects.exclude(phare_incident_slug="").order_by("id")[count // 4]
    queries = {
        "first_page": {},
        "deep_page": {"before": cursor},
        "project": {"project": "project-1"},
        "actor": {"actor": "carol"},
        "action": {"action": "credential.set"},
        "outcome": {"outcome": "unknown"},
        "date_range": {"since": middle_day, "until": middle_day},
        "text_common": {"q": "checkout"},
        "text_rare": {"q": f"#{count // 3}"},
        "slug": {"q": slug.phare_incident_slug},
    }
    for name, query in queries.items():
        result[f"{name}_ms"] = median_ms(client, path, query)

    started = time.monotonic()
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    result["verify_s"] = time.monotonic() - started
    result["database"] = "sqlite3" if database_url.startswith("sqlite") else "postgresql"
    return result


def run_export(database_url: str) -> dict:
    """In its own process, so the peak memory is the export's."""
    setup_django(database_url, HTTPS="false", AUDIT_CHAIN_KEY=AUDIT_CHAIN_KEY)
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(get_user_model().objects.get(username="root"))
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    response = client.get(reverse("incidents:audit_export_csv"))
    rows = size = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
    seconds = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "export_rows": rows - 1,
        "export_rows_per_s": (rows - 1) / seconds,
        "export_mb": size / 1e6,
        "export_peak_mb": peak_kb / 1024,
        "export_growth_mb": (peak_kb - baseline_kb) / 1024,
    }


def report(legs: list[dict], count: int) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {date} on {machine()}; {count:,} entries seeded over two years in three "
        f"projects; page times are medians of {RUNS} requests through Django's test client "
        "(production settings, a superuser, 50 entries a page), after warm-up.",
        "",
        "| measure | goal | " + " | ".join(leg["database"] for leg in legs) + " |",
        "|---|---|" + "---|" * len(legs),
    ]

    def row(label: str, goal: str, key: str, unit: str, digits: int = 1) -> None:
        cells = [f"{leg[key]:,.{digits}f}{unit}" if key in leg else "—" for leg in legs]
        lines.append(f"| {label} | {goal} | " + " | ".join(cells) + " |")

    row("seeding (seed_audit)", "", "seed_s", " s")
    row("first page", "≤ 50 ms", "first_page_ms", " ms")
    deep = legs[0]["deep"]
    row(f"deep page, keyset (cursor of entry {deep:,})", "≤ 50 ms", "deep_page_ms", " ms")
    row("same page with OFFSET (ORM only, no template)", "", "offset_page_ms", " ms")
    row("filter: project", "≤ 50 ms", "project_ms", " ms")
    row("filter: actor", "≤ 50 ms", "actor_ms", " ms")
    row("filter: action (token changes, 1 %)", "≤ 50 ms", "action_ms", " ms")
    row("filter: outcome (unknown, 1.5 %)", "≤ 50 ms", "outcome_ms", " ms")
    row("filter: one day", "≤ 50 ms", "date_range_ms", " ms")
    row("free text, common word", "≤ 50 ms", "text_common_ms", " ms")
    row("free text, rare (one title)", "≤ 50 ms", "text_rare_ms", " ms")
    row("free text, a Phare slug", "≤ 50 ms", "slug_ms", " ms")
    row("CSV export: rows", "", "export_rows", "", 0)
    row("CSV export: rows/s", "≥ 50,000", "export_rows_per_s", "", 0)
    row("CSV export: size", "", "export_mb", " MB")
    row("CSV export: peak memory of the process", "≤ 200 MB", "export_peak_mb", " MB")
    row("verify_audit_log", "≤ 30 s", "verify_s", " s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--leg", help=argparse.SUPPRESS)
    parser.add_argument("--export-leg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leg:
        print(json.dumps(run_leg(args.leg, args.count)))
        return
    if args.export_leg:
        print(json.dumps(run_export(args.export_leg)))
        return
    legs = []
    with tempfile.TemporaryDirectory() as folder:
        databases = [f"sqlite:///{folder}/audit.sqlite3"]
        if postgres_available(POSTGRES_URL):
            ensure_postgres_database(POSTGRES_URL, fresh=True)
            databases.append(POSTGRES_URL)
        else:
            print(f"PostgreSQL not available at {POSTGRES_URL}: SQLite only", file=sys.stderr)
        for url in databases:
            print(f"{url.split(':')[0]}: seeding {args.count:,} entries…", file=sys.stderr)
            leg = json.loads(_run([__file__, "--leg", url, "--count", str(args.count)]))
            print(f"{url.split(':')[0]}: exporting…", file=sys.stderr)
            leg.update(json.loads(_run([__file__, "--export-leg", url])))
            legs.append(leg)
    section = report(legs, args.count)
    print(section)
    if not args.no_write:
        write_benchmarks(
            section, marker="audit", heading="Audit log (`make bench-audit`, bench/audit.py)"
        )


def _run(arguments: list[str]) -> str:
    output = subprocess.run(
        [sys.executable, *arguments], check=True, capture_output=True, text=True
    ).stdout
    return output.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
