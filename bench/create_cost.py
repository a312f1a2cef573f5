"""The console's own time per create, step by step (what bench/create_overhead.py's difference is
made of).

    python bench/create_cost.py     # or: make bench-create-cost

One process per database (SQLite in a temporary file; PostgreSQL at
BENCH_OVERHEAD_POSTGRES_URL with "_cost" appended, and Redis at BENCH_OVERHEAD_REDIS_URL), no
load: Django's test client posts HTMX creates (production settings) to the Phare sandbox
answering at once; the same process calls the sandbox directly with httpx in alternate rounds,
so both are measured under the same machine noise. Counts the SQL statements of one create,
until its answer and after it. Prints a table and writes it into BENCHMARKS.md.
"""

import argparse
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import create_overhead  # noqa: E402
from common import (  # noqa: E402
    ROOT,
    machine,
    run_legs,
    wait_until_up,
    write_benchmarks,
)

ROUNDS, WARM_UP, PER_ROUND = 6, 10, 40
POSTGRES_URL = create_overhead.POSTGRES_URL + "_cost"
REDIS_URL = create_overhead.REDIS_URL
SANDBOX_PORT = 8753
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
TOKEN = create_overhead.TOKEN


def timed(owner, name: str, samples: dict[str, list[float]], label: str) -> None:
    """Replace owner.name with a wrapper recording its duration under `label`, and the
    thread's CPU time under `label` + " (CPU)"."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            samples[label].append((time.perf_counter() - started) * 1000)
            samples[f"{label} (CPU)"].append((time.thread_time() - cpu_started) * 1000)

    setattr(owner, name, wrapper)


def run_leg(database_url: str, redis_url: str) -> dict:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "phare_sandbox", "--port", str(SANDBOX_PORT), "--token", TOKEN]
        + ["--latency-ms", "0", "--no-rate-limit"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"{SANDBOX}/")
        env = create_overhead.server_env(database_url, redis_url) | {"PHARE_API_URL": SANDBOX}
        session = create_overhead.prepare(env)
        return measure(session)
    finally:
        sandbox.terminate()
        sandbox.wait(10)


def measure(session_key: str) -> dict:
    from django.contrib.auth import middleware as auth_middleware
    from django.core.handlers.base import BaseHandler
    from django.db import connection
    from django.test import Client

    from incidents import services
    from incidents.forms import IncidentForm
    from incidents.models import PhareProject
    from incidents.phare import PhareClient
    from incidents.phare.transport import PhareTransport
    from incidents.services import attempts as attempt_services
    from incidents.services import incident_copy
    from incidents.views import incidents as incident_views

    steps: dict[str, list[float]] = defaultdict(list)
    timed(BaseHandler, "get_response", steps, "until the answer")
    timed(auth_middleware, "get_user", steps, "session and user")
    timed(incident_views, "project_for_request", steps, "project and role")
    timed(IncidentForm, "is_valid", steps, "form validation")
    timed(services, "incident_create", steps, "service")
    timed(attempt_services, "_send", steps, "send and settle")
    timed(PhareClient, "create_incident", steps, "call to Phare")
    timed(PhareTransport, "_wait_for_budget", steps, "rate budget")
    timed(attempt_services, "settle", steps, "settle")
    timed(incident_copy, "store_incident", steps, "copy")
    timed(incident_views, "_created_response", steps, "response")

    client = Client(HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER="incident-form", HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = session_key
    sandbox = httpx.Client(base_url=SANDBOX, headers={"Authorization": f"Bearer {TOKEN}"})

    def create() -> float:
        form = {
            "submission_key": str(uuid.uuid4()),
            "timezone": "UTC",
            "impact": "major_outage",
            "title": f"cost {uuid.uuid4().hex[:8]}",
            "monitors": ["3"],
            "confirm_duplicate": "1",
        }
        started = time.perf_counter()
        response = client.post("/projects/overhead/incidents/new/", form)
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
        PhareProject.objects.filter(slug="overhead").first()
        return (time.perf_counter() - started) * 1000

    def select_one() -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return (time.perf_counter() - started) * 1000

    for _ in range(WARM_UP):
        create()
    statements = count_statements(create, BaseHandler)
    steps.clear()
    for _ in range(ROUNDS):
        steps["whole request"] += [create() for _ in range(PER_ROUND)]
        steps["direct"] += [direct() for _ in range(PER_ROUND)]
        steps["one ORM query"] += [one_query() for _ in range(PER_ROUND)]
        steps["SELECT 1"] += [select_one() for _ in range(PER_ROUND)]
    medians = {label: statistics.median(values) for label, values in steps.items()}
    return medians | statements


def count_statements(create, handler_class) -> dict[str, int]:
    """SQL statements of one create, BEGIN and COMMIT included: until the answer is built, and
    after it (the jobs run once the response has been sent)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    until_answer = []
    get_response = handler_class.get_response

    def answering(self, request):
        try:
            return get_response(self, request)
        finally:
            until_answer.append(len(connection.queries_log) - captured.initial_queries)

    handler_class.get_response = answering
    try:
        with CaptureQueriesContext(connection) as captured:
            create()
    finally:
        handler_class.get_response = get_response
    return {
        "statements until the answer": until_answer[0],
        "statements after": len(captured) - until_answer[0],
    }


ROWS = [
    ("whole create request, until the answer (test client, no network)", "until the answer"),
    ("… of which CPU time in this thread", "until the answer (CPU)"),
    ("direct httpx call to the same sandbox", "direct"),
    ("console's own time until the answer (the two above, subtracted)", None),
    ("… session and user", "session and user"),
    ("… project and role (one query)", "project and role"),
    ("… form validation (the monitors, one query)", "form validation"),
    ("… role check and claim: the attempt and its audit entry, one transaction", None),
    ("… the call to Phare, console side included", "call to Phare"),
    ("… … of which the shared rate budget", "rate budget"),
    ("… settle: the attempt and its audit entry, one transaction", "settle"),
    ("… response (the result and the next key)", "response"),
    ("the copy of the new incident (store_incident)", "copy"),
    ("whole request with what runs after the answer", "whole request"),
    ("for scale: one ORM query (a project by its slug)", "one ORM query"),
    ("for scale: `SELECT 1` through Django's cursor", "SELECT 1"),
]


def value(leg: dict, label: str, key: str | None) -> str:
    if label.startswith("console's own"):
        return f"{leg['until the answer'] - leg['direct']:.1f} ms"
    if label.startswith("… role check and claim"):
        return f"{leg['service'] - leg['send and settle']:.1f} ms"
    return f"{leg[key]:.1f} ms" if key in leg else "—"


def report(legs: list[tuple[str, dict]]) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    names = [name for name, _ in legs]
    rows = [
        f"| {label} | " + " | ".join(value(leg, label, key) for _, leg in legs) + " |"
        for label, key in ROWS
    ]
    rows.append(
        "| SQL statements of one create: until the answer / after it | "
        + " | ".join(
            f"{leg['statements until the answer']} / {leg['statements after']}" for _, leg in legs
        )
        + " |"
    )
    lines = [
        f"Measured {date} on {machine()}. One process per database, no concurrent load: "
        f"{ROUNDS} rounds of {PER_ROUND} HTMX creates after {WARM_UP} warm-ups, each round "
        "followed by as many direct calls; PostgreSQL and Redis on the same machine; the "
        "sandbox answers at once. Medians of wall time (CPU time where said); a step's median is "
        "of that step alone.",
        "",
        "| measure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *rows,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--leg", nargs=2, help=argparse.SUPPRESS)  # DATABASE_URL REDIS_URL
    args = parser.parse_args()
    if args.leg:
        print(json.dumps(run_leg(*args.leg)))
        return
    with tempfile.TemporaryDirectory() as folder:
        legs = run_legs(__file__, folder, POSTGRES_URL, REDIS_URL)
    section = report(legs)
    print(section)
    if not args.no_write:
        write_benchmarks(
            section,
            marker="create-cost",
            heading="The console's own time per create (`make bench-create-cost`)",
        )


if __name__ == "__main__":
    main()
