"""Create-path load benchmark (issue: never a duplicate, never a lost incident).

    python bench/load.py            # or: make bench-load

Starts the Phare sandbox (50 ms latency, no rate limit) and the console under gunicorn
(4 workers of 16 threads, PostgreSQL at BENCH_LOAD_POSTGRES_URL, Redis at BENCH_REDIS_URL),
then drives 50 users creating incidents through the HTMX endpoint for 60 s, each pausing
0.5-1.5 s between creates; a tenth of them double-submit every form (two requests at once,
one submission key). Before and after, the same 50 users call the sandbox directly with httpx
for 20 s each: the console's overhead is the ratio of the two medians, measured in one run.
Prints a table and writes it into BENCHMARKS.md.
"""

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    console_env,
    ensure_postgres_database,
    logged_in_session,
    machine,
    migrate_and_setup,
    percentile,
    postgres_available,
    start_console,
    wait_until_up,
    write_benchmarks,
)

USERS = 50
DOUBLE_SUBMITTERS = 5  # a tenth of the users
DURATION_S = 60
DIRECT_DURATION_S = 20
LATENCY_MS = 50
WORKERS, THREADS = 4, 16
THINK_S = (0.5, 1.5)
POSTGRES_URL = os.environ.get(
    "BENCH_LOAD_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench_load"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TOKEN = "pha_bench_load_token"
SANDBOX_PORT, CONSOLE_PORT = 8701, 8702


def server_env() -> dict[str, str]:
    # The load is far above Phare's 100 calls a minute, which the sandbox does not apply.
    return console_env(
        database_url=POSTGRES_URL,
        redis_url=REDIS_URL,
        phare_api_url=f"http://127.0.0.1:{SANDBOX_PORT}",
        PHARE_RATE_LIMIT="1000000",
        MONITOR_SYNC_TTL="86400",
    )


def prepare_database() -> list[str]:
    """Migrate, add the project and USERS responders; return their session keys."""
    migrate_and_setup(server_env())
    from django.contrib.auth import get_user_model

    from incidents import services
    from incidents.models import Membership

    project, _ = services.project_provision(name="Load", token=TOKEN)
    services.monitor_sync(actor=None, project=project)
    sessions = []
    for number in range(USERS):
        user = get_user_model().objects.create_user(f"oncall{number}")
        Membership.objects.create(project=project, user=user, role="responder")
        sessions.append(logged_in_session(user))
    return sessions


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies_ms: list[float] = []
        self.errors: list[str] = []
        self.created_titles: set[str] = set()

    def add(self, latency_ms: float, error: str | None = None, title: str | None = None) -> None:
        with self.lock:
            self.latencies_ms.append(latency_ms)
            if error:
                self.errors.append(error)
            if title:
                self.created_titles.add(title)


def run_users(duration_s: float, user_loop) -> None:
    stop_at = time.monotonic() + duration_s
    threads = [
        threading.Thread(target=user_loop, args=(number, stop_at)) for number in range(USERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def direct_phase(recorder: Recorder, duration_s: float) -> None:
    sandbox = f"http://127.0.0.1:{SANDBOX_PORT}"

    def user(number: int, stop_at: float) -> None:
        with httpx.Client(base_url=sandbox, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            while time.monotonic() < stop_at:
                body = {
                    "impact": "major_outage",
                    "title": f"direct {number} {uuid.uuid4().hex[:8]}",
                    "exclude_from_downtime": False,
                    "monitors": [random.randint(1, 36)],
                }
                started = time.perf_counter()
                response = http.post("/uptime/incidents", json=body, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                recorder.add(
                    elapsed, None if response.status_code == 201 else str(response.status_code)
                )
                time.sleep(random.uniform(*THINK_S))

    run_users(duration_s, user)


def create_form(title: str) -> dict:
    """A new submission of the create form: one random monitor, the duplicate check confirmed
    (many creates on few monitors, on purpose)."""
    return {
        "submission_key": str(uuid.uuid4()),
        "timezone": "UTC",
        "impact": "major_outage",
        "title": title,
        "monitors": [str(random.randint(1, 36))],
        "confirm_duplicate": "1",
    }


def console_phase(recorder: Recorder, sessions: list[str], duration_s: float) -> None:
    console = f"http://127.0.0.1:{CONSOLE_PORT}"
    url = "/projects/load/incidents/new/"

    def post(http: httpx.Client, token: str, form: dict) -> None:
        started = time.perf_counter()
        try:
            response = http.post(
                url,
                data=form,
                headers={"HX-Request": "true", "HX-Trigger": "incident-form", "X-CSRFToken": token},
            )
        except httpx.HTTPError as error:
            recorder.add((time.perf_counter() - started) * 1000, type(error).__name__)
            return
        elapsed = (time.perf_counter() - started) * 1000
        created = response.status_code == 200 and " created</h2>" in response.text
        recorder.add(
            elapsed,
            None if created else f"HTTP {response.status_code}",
            form["title"] if created else None,
        )

    def user(number: int, stop_at: float) -> None:
        cookies = {"sessionid": sessions[number]}
        with httpx.Client(base_url=console, cookies=cookies, timeout=30) as http:
            page = http.get("/projects/load/").text
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            while time.monotonic() < stop_at:
                form = create_form(f"console {number} {uuid.uuid4().hex[:8]}")
                if number < DOUBLE_SUBMITTERS:
                    twin = threading.Thread(target=post, args=(http, token, form))
                    twin.start()
                    post(http, token, form)
                    twin.join()
                else:
                    post(http, token, form)
                time.sleep(random.uniform(*THINK_S))

    run_users(duration_s, user)


def sandbox_titles() -> list[str]:
    titles, page = [], 1
    with httpx.Client(
        base_url=f"http://127.0.0.1:{SANDBOX_PORT}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    ) as http:
        while True:
            body = http.get("/uptime/incidents", params={"page": page, "per_page": 100}).json()
            titles += [incident["title"] for incident in body["data"]]
            if not body["links"].get("next"):
                return titles
            page += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--duration", type=int, default=DURATION_S, help="seconds of load")
    args = parser.parse_args()
    if not postgres_available(POSTGRES_URL):
        sys.exit(f"PostgreSQL is needed at {POSTGRES_URL}")
    ensure_postgres_database(POSTGRES_URL, fresh=True)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "phare_sandbox", "--port", str(SANDBOX_PORT), "--token", TOKEN]
        + ["--latency-ms", str(LATENCY_MS), "--no-rate-limit"],
        cwd=ROOT,
    )
    processes = [sandbox]
    try:
        wait_until_up(f"http://127.0.0.1:{SANDBOX_PORT}/")
        sessions = prepare_database()
        processes.append(
            start_console(CONSOLE_PORT, server_env(), workers=WORKERS, threads=THREADS)
        )
        direct, console = Recorder(), Recorder()
        print(f"direct calls for {DIRECT_DURATION_S} s…", file=sys.stderr)
        direct_phase(direct, DIRECT_DURATION_S)
        print(f"console creates for {args.duration} s…", file=sys.stderr)
        console_phase(console, sessions, args.duration)
        print(f"direct calls for {DIRECT_DURATION_S} s…", file=sys.stderr)
        direct_phase(direct, DIRECT_DURATION_S)
        titles = sandbox_titles()
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    console_titles = [title for title in titles if title.startswith("console ")]
    duplicates = len(console_titles) - len(set(console_titles))
    lost = len(console.created_titles - set(console_titles))
    section = report(console, direct, args.duration, duplicates, lost, len(console_titles))
    print(section)
    if not args.no_write:
        write_benchmarks(
            section,
            marker="load",
            heading="Create path under load (`make bench-load`, bench/load.py)",
        )


def report(console, direct, duration, duplicates, lost, incidents) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    c, d = console.latencies_ms, direct.latencies_ms
    ratio = statistics.median(c) / statistics.median(d)
    rows = [
        ("requests to the console", "", f"{len(c):,}"),
        ("throughput", "", f"{len(c) / duration:.1f} requests/s"),
        ("latency p50", "", f"{statistics.median(c):.1f} ms"),
        ("latency p95", "", f"{percentile(c, 0.95):.1f} ms"),
        ("latency p99", "", f"{percentile(c, 0.99):.1f} ms"),
        ("errors", "0", f"{len(console.errors)}" + _sample(console.errors)),
        ("incidents in the sandbox", "", f"{incidents:,}"),
        ("duplicates in the sandbox", "0", str(duplicates)),
        ("created but missing from the sandbox", "0", str(lost)),
        ("direct httpx calls to the sandbox", "", f"{len(d):,} ({len(direct.errors)} errors)"),
        ("direct call p50 / p95", "", f"{statistics.median(d):.1f} / {percentile(d, 0.95):.1f} ms"),
        ("overhead at p50 (console ÷ direct)", "≤ 1.15", f"{ratio:.2f}"),
    ]
    lines = [
        f"Measured {date} on {machine()}. Console under gunicorn ({WORKERS} workers × "
        f"{THREADS} threads), PostgreSQL and Redis on the same machine; sandbox with "
        f"{LATENCY_MS} ms latency; {USERS} users for {duration} s, each pausing "
        f"{THINK_S[0]}-{THINK_S[1]} s between creates, {DOUBLE_SUBMITTERS} of them sending every "
        "form twice at once; direct calls: the same users and pauses, 20 s before and 20 s "
        "after. Load generator, console, sandbox and databases share the 2 cores.",
        "",
        "| measure | goal | result |",
        "|---|---|---|",
        *[f"| {label} | {goal} | {value} |" for label, goal, value in rows],
    ]
    return "\n".join(lines)


def _sample(errors: list[str]) -> str:
    if not errors:
        return ""
    counts: dict[str, int] = {}
    for error in errors:
        counts[error] = counts.get(error, 0) + 1
    return " (" + ", ".join(f"{name} × {count}" for name, count in counts.items()) + ")"


if __name__ == "__main__":
    main()
