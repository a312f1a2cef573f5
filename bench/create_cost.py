"""The console's own time per create, step by step (what bench/load.py's overhead is made of).

    python bench/create_cost.py     # or: make bench-create-cost

One process, no load: Django's test client posts HTMX creates (production settings,
PostgreSQL at BENCH_LOAD_POSTGRES_URL, Redis at BENCH_REDIS_URL) to the Phare sandbox
answering at once; the same process calls the sandbox directly with httpx in alternate
rounds, so both are measured under the same machine noise. Prints a table and writes it into
BENCHMARKS.md.
"""

import argparse
import functools
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402
from common import ROOT, ensure_postgres_database, machine, write_benchmarks  # noqa: E402

ROUNDS, WARM_UP, PER_ROUND = 6, 10, 40


def timed(owner, name: str, samples: dict[str, list[float]], label: str) -> None:
    """Replace owner.name with a wrapper recording its duration under `label`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            samples[label].append((time.perf_counter() - started) * 1000)

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    ensure_postgres_database(load.POSTGRES_URL, fresh=True)
    import redis

    redis.Redis.from_url(load.REDIS_URL).flushdb()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "phare_sandbox", "--port", str(load.SANDBOX_PORT)]
        + ["--token", load.TOKEN, "--latency-ms", "0", "--no-rate-limit"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        load.wait_until_up(f"http://127.0.0.1:{load.SANDBOX_PORT}/")
        session_key = load.prepare_database()[0]
        section = measure(session_key)
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    print(section)
    if not args.no_write:
        write_benchmarks(
            section,
            marker="create-cost",
            heading="The console's own time per create (`make bench-create-cost`)",
        )


def measure(session_key: str) -> str:
    from django.contrib.auth import middleware as auth_middleware
    from django.db import connection
    from django.test import Client

    from incidents import services
    from incidents.forms import IncidentForm
    from incidents.models import PhareProject
    from incidents.phare import PhareClient
    from incidents.services import attempts as attempt_services
    from incidents.views import incidents as incident_views

    steps: dict[str, list[float]] = defaultdict(list)
    timed(auth_middleware, "get_user", steps, "session and user")
    timed(incident_views, "project_for_request", steps, "project and role")
    timed(IncidentForm, "is_valid", steps, "form validation")
    timed(services, "incident_create", steps, "service")
    timed(attempt_services, "_send", steps, "send and settle")
    timed(PhareClient, "create_incident", steps, "call to Phare")
    timed(attempt_services, "settle", steps, "settle")
    timed(incident_views, "_created_response", steps, "response")

    client = Client(HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER="incident-form", HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = session_key
    sandbox = httpx.Client(
        base_url=f"http://127.0.0.1:{load.SANDBOX_PORT}",
        headers={"Authorization": f"Bearer {load.TOKEN}"},
    )

    def create() -> float:
        form = load.create_form(f"cost {uuid.uuid4().hex[:8]}")
        started = time.perf_counter()
        response = client.post("/projects/load/incidents/new/", form)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"create answered {response.status_code}")
        return elapsed

    def direct() -> float:
        body = {"impact": "major_outage", "title": f"direct {uuid.uuid4().hex[:8]}"}
        started = time.perf_counter()
        response = sandbox.post("/uptime/incidents", json=body | {"exclude_from_downtime": False})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise RuntimeError(f"direct call answered {response.status_code}")
        return elapsed

    def one_query() -> float:
        started = time.perf_counter()
        PhareProject.objects.filter(slug="load").first()
        return (time.perf_counter() - started) * 1000

    def select_one() -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return (time.perf_counter() - started) * 1000

    for _ in range(WARM_UP):
        create()
    steps.clear()
    requests_ms: list[float] = []
    direct_ms: list[float] = []
    for _ in range(ROUNDS):
        requests_ms += [create() for _ in range(PER_ROUND)]
        direct_ms += [direct() for _ in range(PER_ROUND)]
        steps["one ORM query"] += [one_query() for _ in range(PER_ROUND)]
        steps["SELECT 1"] += [select_one() for _ in range(PER_ROUND)]
    return report(requests_ms, direct_ms, steps)


def report(requests_ms, direct_ms, steps) -> str:
    median = statistics.median
    whole, direct = median(requests_ms), median(direct_ms)
    claim = median(steps["service"]) - median(steps["send and settle"])
    rows = [
        ("whole create request (test client, no network to the console)", whole),
        ("direct httpx call to the same sandbox", direct),
        ("console's own time (the two above, subtracted)", whole - direct),
        ("… session and user (Redis, one query)", median(steps["session and user"])),
        ("… project and role (one query)", median(steps["project and role"])),
        ("… form validation (the monitors, one query)", median(steps["form validation"])),
        ("… role check and claim: the attempt and its audit entry, one transaction", claim),
        ("… the call to Phare, console side included", median(steps["call to Phare"])),
        ("… settle: the attempt and its audit entry, one transaction", median(steps["settle"])),
        ("… response (the result and the next key)", median(steps["response"])),
        ("for scale: one ORM query (a project by its slug)", median(steps["one ORM query"])),
        ("for scale: `SELECT 1` through Django's cursor", median(steps["SELECT 1"])),
    ]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {date} on {machine()}. One process, no concurrent load: "
        f"{ROUNDS} rounds of {PER_ROUND} HTMX creates after {WARM_UP} warm-ups, each round "
        "followed by as many direct calls; PostgreSQL and Redis on the same machine; the "
        "sandbox answers at once. Medians; a step's median is of that step alone.",
        "",
        "| measure | median |",
        "|---|---|",
        *[f"| {label} | {value:.1f} ms |" for label, value in rows],
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
