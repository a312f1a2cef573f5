"""What the console adds to one person's create (issue 14, goal 1).

    python bench/create_overhead.py            # or: make bench-create-overhead
    python bench/create_overhead.py --rounds 10 --no-write   # a quicker look

One person, one request at a time, over real HTTP. Per database (SQLite in a temporary file;
PostgreSQL at BENCH_OVERHEAD_POSTGRES_URL with Redis at BENCH_OVERHEAD_REDIS_URL): starts the
Phare sandbox answering in 50 ms and the console under gunicorn (production settings, DEBUG
off), logs one responder in, then after a warm-up alternates ROUNDS times: an HTMX create
through the console (a fresh submission key, "Create anyway" pressed: confirm_duplicate=1),
then the same JSON body POSTed straight to the sandbox with httpx. Both clients keep their
connection open, as a browser does. Each round also times two requests that do none of a
create's work, for the floor under it: GET /healthz (gunicorn, HTTP and Django's middleware,
one `SELECT 1`, no session) and the HTMX GET of the monitor refresh's status line (the same
plus the session, the user, the project and role, and a small partial, as every request of a
signed-in responder). Prints the medians, their difference and ratio, and the p95, and writes
them into BENCHMARKS.md.
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
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    console_env,
    logged_in_session,
    machine,
    percentile,
    run_legs,
    start_console,
    wait_until_up,
    write_benchmarks,
)

ROUNDS, WARM_UP = 40, 10
LATENCY_MS = 50
WORKERS, THREADS = 1, 4
GOAL_MS, GOAL_RATIO = 5.0, 1.10
POSTGRES_URL = os.environ.get(
    "BENCH_OVERHEAD_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench_overhead"
)
REDIS_URL = os.environ.get("BENCH_OVERHEAD_REDIS_URL", "redis://127.0.0.1:6379/12")
TOKEN = "pha_bench_overhead_token"
SANDBOX_PORT, CONSOLE_PORT = 8751, 8752
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
CONSOLE = f"http://127.0.0.1:{CONSOLE_PORT}"
MONITORS = 36  # the sandbox's seeded monitors, ids 1 to 36


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    # Creates come faster than Phare's 100 calls a minute, which the sandbox does not apply.
    return console_env(
        database_url=database_url,
        redis_url=redis_url,
        phare_api_url=SANDBOX,
        PHARE_RATE_LIMIT="1000000",
        MONITOR_SYNC_TTL="86400",
    )


def prepare(env: dict[str, str]) -> str:
    """Migrate, add the project (its monitors read from the sandbox) and one responder; the
    responder's session key."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from incidents import services
    from incidents.models import Membership

    project, _ = services.project_provision(name="Overhead", token=TOKEN)
    services.monitor_sync(actor=None, project=project)
    user = get_user_model().objects.create_user("oncall")
    Membership.objects.create(project=project, user=user, role="responder")
    return logged_in_session(user)


def run_leg(database_url: str, redis_url: str, rounds: int, warm_up: int) -> dict:
    """One database: both servers started, the rounds measured, both stopped."""
    env = server_env(database_url, redis_url)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "phare_sandbox", "--port", str(SANDBOX_PORT), "--token", TOKEN]
        + ["--latency-ms", str(LATENCY_MS), "--no-rate-limit"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    processes = [sandbox]
    try:
        wait_until_up(f"{SANDBOX}/")
        session = prepare(env)
        processes.append(start_console(CONSOLE_PORT, env, workers=WORKERS, threads=THREADS))
        return measure(session, rounds, warm_up)
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(10)


def measure(session: str, rounds: int, warm_up: int) -> dict:
    # A CSRF secret of our own, in the cookie and the header, as the page's script sends it.
    csrf = uuid.uuid4().hex
    console = httpx.Client(
        base_url=CONSOLE, cookies={"sessionid": session, "csrftoken": csrf}, timeout=30
    )
    console_headers = {"HX-Request": "true", "HX-Trigger": "incident-form", "X-CSRFToken": csrf}
    direct = httpx.Client(
        base_url=SANDBOX, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )

    def through_console(title: str, monitor: int) -> float:
        form = {
            "submission_key": str(uuid.uuid4()),
            "timezone": "UTC",
            "impact": "major_outage",
            "title": title,
            "monitors": [str(monitor)],
            "confirm_duplicate": "1",
        }
        started = time.perf_counter()
        response = console.post(
            "/projects/overhead/incidents/new/", data=form, headers=console_headers
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or " created</h2>" not in response.text:
            raise RuntimeError(f"the console's create answered {response.status_code}")
        return elapsed

    def straight_to_phare(title: str, monitor: int) -> float:
        # The body the console sends for that form (IncidentPayload.to_json).
        body = {
            "impact": "major_outage",
            "title": title,
            "exclude_from_downtime": False,
            "monitors": [monitor],
        }
        started = time.perf_counter()
        response = direct.post("/uptime/incidents", json=body)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise RuntimeError(f"the direct call answered {response.status_code}")
        return elapsed

    def floor(path: str, headers: dict[str, str]) -> float:
        started = time.perf_counter()
        response = console.get(path, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        return elapsed

    def health() -> float:
        return floor("/healthz", {})

    def signed_in_partial() -> float:
        return floor("/projects/overhead/monitors/status/", {"HX-Request": "true"})

    with console, direct:
        for number in range(warm_up):
            through_console(f"warm-up {number}", random.randint(1, MONITORS))
            straight_to_phare(f"warm-up {number}", random.randint(1, MONITORS))
            health()
            signed_in_partial()
        measured: dict[str, list[float]] = {
            "console_ms": [],
            "direct_ms": [],
            "health_ms": [],
            "partial_ms": [],
        }
        for number in range(rounds):
            title, monitor = f"Checkout is down {number}", random.randint(1, MONITORS)
            measured["console_ms"].append(through_console(title, monitor))
            measured["direct_ms"].append(straight_to_phare(title, monitor))
            measured["health_ms"].append(health())
            measured["partial_ms"].append(signed_in_partial())
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--warm-up", type=int, default=WARM_UP)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL leg")
    parser.add_argument("--leg", nargs=2, help=argparse.SUPPRESS)  # DATABASE_URL REDIS_URL
    args = parser.parse_args()
    if args.leg:
        print(json.dumps(run_leg(*args.leg, args.rounds, args.warm_up)))
        return
    with tempfile.TemporaryDirectory() as folder:
        legs = run_legs(
            __file__,
            folder,
            POSTGRES_URL,
            REDIS_URL,
            extra_args=("--rounds", str(args.rounds), "--warm-up", str(args.warm_up)),
            sqlite_only=args.sqlite_only,
        )
    section = report(legs, args.rounds, args.warm_up)
    print(section)
    if not args.no_write:
        write_benchmarks(
            section,
            marker="create-overhead",
            heading="One person creating, console beside Phare "
            "(`make bench-create-overhead`, bench/create_overhead.py)",
        )


def report(legs: list[tuple[str, dict]], rounds: int, warm_up: int) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    median = statistics.median
    rows, floors = [], []
    for name, leg in legs:
        console, direct = leg["console_ms"], leg["direct_ms"]
        added = median(console) - median(direct)
        ratio = median(console) / median(direct)
        met = "met" if added <= GOAL_MS and ratio <= GOAL_RATIO else "**not met**"
        rows.append(
            f"| {name} | {median(console):.1f} / {percentile(console, 0.95):.1f} ms "
            f"| {median(direct):.1f} / {percentile(direct, 0.95):.1f} ms "
            f"| {added:.1f} ms | {ratio:.2f} | {met} |"
        )
        health, partial = median(leg["health_ms"]), median(leg["partial_ms"])
        floors.append(f"| {name} | {health:.1f} ms | {partial:.1f} ms | {added - partial:.1f} ms |")
    lines = [
        f"Measured {date} on {machine()}. Console under gunicorn ({WORKERS} worker × "
        f"{THREADS} threads, DEBUG off); Phare sandbox answering in {LATENCY_MS} ms; one "
        f"responder, one request at a time: {warm_up} warm-up rounds, then {rounds} rounds of "
        "an HTMX create through the console (fresh submission key, confirm_duplicate=1 as "
        "after “Create anyway”, so the duplicate check is skipped) followed by the same JSON "
        "body POSTed to the sandbox with httpx; both connections kept open. PostgreSQL and "
        "Redis on the same machine. Goal: the console adds ≤ 5 ms at the median (ratio ≤ 1.10).",
        "",
        "| database | console p50 / p95 | direct p50 / p95 | added at p50 | ratio | goal |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "The floor under it, timed in the same rounds (medians): a request that does none of "
        "a create's work, and what the create adds above the signed-in one.",
        "",
        "| database | GET /healthz (no session) | signed-in HTMX GET (status line) "
        "| create's own work: added less the signed-in GET |",
        "|---|---|---|---|",
        *floors,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
