"""Audit log benchmark (issue: an audit log people can trust and search), beside Django's admin.

    python bench/audit.py            # or: make bench-audit
    python bench/audit.py --count 100000 --no-write   # a quicker look
    python bench/audit.py --reuse --quick              # iterate on the pages, seeded once

Per database (SQLite, and PostgreSQL at BENCH_AUDIT_POSTGRES_URL), in a fresh database:
seeds COUNT entries with seed_audit, then measures through Django's test client (production
settings, one superuser) the median of RUNS requests for: the console's first page and a page
90 % deep (a cursor), alternating with Django's admin changelist of the same table (its first
page and the page `?p=N` showing the same entries, with the admin as registered, and with a
bench-only copy at the console's 50 a page); the same deep page with OFFSET, each filter and
free text; then streams the CSV export of every entry in a separate process (rows/s, peak
memory) and times verify_audit_log. Prints a table and writes it into BENCHMARKS.md.

--reuse keeps the seeded databases (SQLite in REUSED_SQLITE, PostgreSQL not dropped) and seeds
only a database that does not hold COUNT entries yet; --quick measures only the comparison
with the admin and writes nothing.
"""

import argparse
import io
import json
import math
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
DEPTH = 0.9  # the admin's page 90 % deep, and the console's page of the same entries
COMPARISON_RUNS = 15
# Production settings refuse to start without the audit chain's key (any key will do here).
AUDIT_CHAIN_KEY = "bench-audit-chain-key-not-for-production-0123"
POSTGRES_URL = os.environ.get(
    "BENCH_AUDIT_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench_audit"
)
# Where --reuse keeps the seeded SQLite database (ignored by git, like every db-*.sqlite3).
REUSED_SQLITE = Path(__file__).resolve().parent.parent / "db-bench-audit.sqlite3"
BENCH_ADMIN_PATH = "bench/admin-audit-50/"


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


def run_leg(database_url: str, count: int, *, quick: bool = False) -> dict:
    setup_django(database_url, HTTPS="false", AUDIT_CHAIN_KEY=AUDIT_CHAIN_KEY)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from incidents.audit_search import Cursor
    from incidents.models import AuditEntry, PhareProject

    call_command("migrate", "--noinput", verbosity=0)
    result: dict = {"database": "sqlite3" if database_url.startswith("sqlite") else "postgresql"}
    existing = AuditEntry.objects.count()
    if existing and existing != count:
        raise SystemExit(
            f"{database_url} holds {existing:,} entries, not {count:,}: delete it (or run "
            "without --reuse) to seed it again."
        )
    if not existing:
        for number in range(3):
            PhareProject.objects.create(name=f"Project {number}", slug=f"project-{number}")
        get_user_model().objects.create_superuser("root")
        started = time.monotonic()
        call_command("seed_audit", "--count", str(count), "--days", "730", stdout=io.StringIO())
        result["seed_s"] = time.monotonic() - started
    if connection.vendor == "postgresql":
        # What autovacuum does to a table this size soon after a bulk load (seed_audit only
        # analyzes): the visibility map lets COUNT(*) read an index only, as the admin's
        # counts would in production.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {AuditEntry._meta.db_table}")
    result["entries"] = AuditEntry.objects.count()
    root = get_user_model().objects.get(username="root")
    client = Client()
    client.force_login(root)
    result.update(compare_with_admin(client, result["entries"]))
    if quick:
        return result
    deep = min(DEEP, count - 60)
    result["deep"] = deep
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
    return result


def compare_with_admin(client, entries: int) -> dict:
    """The console's audit log and Django's admin changelist of the same table, through the
    same client and superuser: first pages, and the pages starting at the entry 90 % deep in
    the admin's pagination (the console's through a cursor, the admin's `?p=N`), requests
    alternating so that both see the same machine."""
    from django.contrib import admin
    from django.test.utils import override_settings
    from django.urls import path as url_path
    from django.urls import reverse

    from incidents.admin import AuditEntryAdmin
    from incidents.audit_search import PAGE_SIZE, Cursor
    from incidents.models import AuditEntry
    from phare_console import urls as console_urls

    class AuditEntryAdminAtPageSize(AuditEntryAdmin):
        """The admin as registered, 50 a page like the console: served at a bench-only
        address, registered in no admin site."""

        list_per_page = PAGE_SIZE

    class BenchUrls:
        urlpatterns = [
            *console_urls.urlpatterns,
            url_path(
                BENCH_ADMIN_PATH,
                admin.site.admin_view(
                    AuditEntryAdminAtPageSize(AuditEntry, admin.site).changelist_view
                ),
            ),
        ]

    override_settings(ROOT_URLCONF=BenchUrls).enable()

    registered = admin.site.get_model_admin(AuditEntry)
    per_page = registered.list_per_page
    # The entry the admin's page 90 % deep starts with; the console's page and the bench
    # admin's page start there too.
    page = round(DEPTH * math.ceil(entries / per_page))
    offset = (page - 1) * per_page
    newest_first = AuditEntry.objects.order_by(*AuditEntry._meta.ordering)
    assert list(registered.get_ordering(None) or AuditEntry._meta.ordering) == [
        "-created_at",
        "-id",
    ]
    first_of_page = newest_first.only("id")[offset]
    cursor = Cursor.of(newest_first.only("created_at", "id")[offset - 1]).encode()

    console = reverse("incidents:audit_list")
    changelist = reverse("admin:incidents_auditentry_changelist")
    bench_admin = "/" + BENCH_ADMIN_PATH
    requests = {
        "console_first": (console, {}),
        "admin_first": (changelist, {}),
        "admin50_first": (bench_admin, {}),
        "console_deep": (console, {"before": cursor}),
        "admin_deep": (changelist, {"p": page}),
        "admin50_deep": (bench_admin, {"p": offset // PAGE_SIZE + 1}),
    }
    deep_link = reverse("incidents:audit_detail", args=[first_of_page.pk])
    admin_link = reverse("admin:incidents_auditentry_change", args=[first_of_page.pk])
    for name, (address, query) in requests.items():  # warm-up, and the same entries shown
        for _ in range(2):
            response = client.get(address, query)
            assert response.status_code == 200, (name, response.status_code)
        if name.endswith("_deep"):
            link = deep_link if name.startswith("console") else admin_link
            assert f'href="{link}' in response.content.decode(), name
    timings: dict[str, list[float]] = {name: [] for name in requests}
    for run in range(COMPARISON_RUNS):
        order = list(requests.items())
        for name, (address, query) in order if run % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            response = client.get(address, query)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, response.status_code)
    result = {f"{name}_ms": statistics.median(values) for name, values in timings.items()}
    result |= {
        "admin_per_page": per_page,
        "admin_deep_page": page,
        "admin50_deep_page": offset // PAGE_SIZE + 1,
        "comparison_offset": offset,
    }
    for page_name in ("first", "deep"):
        for admin_name in ("admin", "admin50"):
            result[f"{admin_name}_{page_name}_ratio"] = (
                result[f"{admin_name}_{page_name}_ms"] / result[f"console_{page_name}_ms"]
            )
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
    first = legs[0]
    per_page, offset = first["admin_per_page"], first["comparison_offset"]
    lines = [
        f"Measured {date} on {machine()}; {count:,} entries seeded over two years in three "
        f"projects; page times are medians of {RUNS} requests through Django's test client "
        "(production settings, a superuser, 50 entries a page), after warm-up.",
        "",
        f"Beside Django's admin changelist of the same table (`/admin/incidents/auditentry/`, "
        f"`AuditEntryAdmin` as registered: {per_page} a page, the model's ordering newest "
        "first, its filters and counts), same process, client and superuser; medians of "
        f"{COMPARISON_RUNS} rounds, the requests alternating. The deep pages start at the same "
        f"entry, {offset:,} newest first (90 % deep): the admin's `?p="
        f"{first['admin_deep_page']:,}`, the console's cursor. “admin at 50 a page” is a "
        "bench-only subclass of that admin with `list_per_page = 50`, registered nowhere "
        f"(`?p={first['admin50_deep_page']:,}`).",
        "",
        "| measure | goal | " + " | ".join(leg["database"] for leg in legs) + " |",
        "|---|---|" + "---|" * len(legs),
    ]

    def row(label: str, goal: str, key: str, unit: str, digits: int = 1) -> None:
        cells = [f"{leg[key]:,.{digits}f}{unit}" if key in leg else "—" for leg in legs]
        lines.append(f"| {label} | {goal} | " + " | ".join(cells) + " |")

    row("console, first page", "", "console_first_ms", " ms")
    row(f"admin, first page ({per_page} a page)", "", "admin_first_ms", " ms")
    row("admin at 50 a page, first page", "", "admin50_first_ms", " ms")
    row("console, page 90 % deep (cursor)", "≤ 20 ms", "console_deep_ms", " ms")
    row(f"admin, page 90 % deep (`?p=`, {per_page} a page)", "", "admin_deep_ms", " ms")
    row("admin at 50 a page, page 90 % deep", "", "admin50_deep_ms", " ms")
    row("ratio admin / console, first page", "", "admin_first_ratio", "×")
    row("ratio admin / console, deep page", "≥ 50×", "admin_deep_ratio", "×")
    row("ratio admin at 50 a page / console, deep page", "", "admin50_deep_ratio", "×")
    if "first_page_ms" not in first:  # --quick
        return "\n".join(lines)
    lines += [
        "",
        "The console's own goals (issue “an audit log people can trust and search”):",
        "",
        "| measure | goal | " + " | ".join(leg["database"] for leg in legs) + " |",
        "|---|---|" + "---|" * len(legs),
    ]
    row("seeding (seed_audit)", "", "seed_s", " s")
    row("first page", "≤ 50 ms", "first_page_ms", " ms")
    deep = first.get("deep", DEEP)
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
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=f"keep the seeded databases ({REUSED_SQLITE.name}, and PostgreSQL's) between "
        "runs; seed only one that does not hold COUNT entries",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only the comparison with the admin; writes nothing"
    )
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], action="append", help="only this one"
    )
    parser.add_argument("--leg", help=argparse.SUPPRESS)
    parser.add_argument("--export-leg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leg:
        print(json.dumps(run_leg(args.leg, args.count, quick=args.quick)))
        return
    if args.export_leg:
        print(json.dumps(run_export(args.export_leg)))
        return
    wanted = args.database or ["sqlite", "postgresql"]
    legs = []
    with tempfile.TemporaryDirectory() as folder:
        databases = []
        if "sqlite" in wanted:
            sqlite_path = REUSED_SQLITE if args.reuse else Path(folder) / "audit.sqlite3"
            databases.append(f"sqlite:///{sqlite_path}")
        if "postgresql" in wanted:
            if postgres_available(POSTGRES_URL):
                ensure_postgres_database(POSTGRES_URL, fresh=not args.reuse)
                databases.append(POSTGRES_URL)
            else:
                print(f"PostgreSQL not available at {POSTGRES_URL}: skipped", file=sys.stderr)
        for url in databases:
            print(
                f"{url.split(':')[0]}: seeding {args.count:,} entries (unless reused)…",
                file=sys.stderr,
            )
            leg_args = [__file__, "--leg", url, "--count", str(args.count)]
            leg = json.loads(_run(leg_args + (["--quick"] if args.quick else [])))
            if not args.quick:
                print(f"{url.split(':')[0]}: exporting…", file=sys.stderr)
                leg.update(json.loads(_run([__file__, "--export-leg", url])))
            legs.append(leg)
    section = report(legs, args.count)
    print(section)
    if not (args.no_write or args.quick):
        write_benchmarks(
            section, marker="audit", heading="Audit log (`make bench-audit`, bench/audit.py)"
        )


def _run(arguments: list[str]) -> str:
    output = subprocess.run(
        [sys.executable, *arguments], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return output.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
