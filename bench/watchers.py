"""Many people watching one incident, one Phare budget (issue: after the declaration).

    python bench/watchers.py            # or: make bench-watchers

Starts the Phare sandbox (20 ms latency, Phare's limit of 100 calls a minute) and the console
under gunicorn (PostgreSQL at BENCH_WATCHERS_POSTGRES_URL, Redis at BENCH_REDIS_URL), declares
an incident through the console, then for 60 s has 50 people keep its page open as the browser
would: each loads the page once, then polls its live part every INCIDENT_POLL_SECONDS; two of
them post an update (at 15 s and 40 s). Counts every call the console made to Phare in that
minute (the sandbox's request log), and the page and poll latencies. Prints a table and writes
it into BENCHMARKS.md.
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

WATCHERS = 50
POSTERS = 2
DURATION_S = 60
POLL_S = 10
POST_AT_S = (15, 40)
LATENCY_MS = 20
WORKERS, THREADS = 2, 16
POSTGRES_URL = os.environ.get(
    "BENCH_WATCHERS_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/phare_bench_watchers"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TOKEN = "pha_bench_watchers_token"
SANDBOX_PORT, CONSOLE_PORT = 8711, 8712
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
CONSOLE = f"http://127.0.0.1:{CONSOLE_PORT}"


def server_env() -> dict[str, str]:
    return console_env(
        database_url=POSTGRES_URL,
        redis_url=REDIS_URL,
        phare_api_url=SANDBOX,
        MONITOR_SYNC_TTL="86400",
        INCIDENT_POLL_SECONDS=str(POLL_S),
    )


def prepare_database() -> list[str]:
    """Migrate, add the project, POSTERS responders and viewers; return their session keys."""
    migrate_and_setup(server_env())
    from django.contrib.auth import get_user_model

    from incidents import services
    from incidents.models import Membership

    project, _ = services.project_provision(name="Watch", token=TOKEN)
    services.monitor_sync(actor=None, project=project)
    sessions = []
    for number in range(WATCHERS):
        user = get_user_model().objects.create_user(f"watcher{number}")
        role = "responder" if number < POSTERS else "viewer"
        Membership.objects.create(project=project, user=user, role=role)
        sessions.append(logged_in_session(user))
    return sessions


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def declare(session: str) -> str:
    """An incident through the console, as a responder would; its page's path."""
    cookies = {"sessionid": session}
    with httpx.Client(base_url=CONSOLE, cookies=cookies, timeout=30, follow_redirects=True) as http:
        token = csrf_token(http.get("/projects/watch/").text)
        response = http.post(
            "/projects/watch/incidents/new/",
            data={
                "submission_key": str(uuid.uuid4()),
                "timezone": "UTC",
                "impact": "major_outage",
                "title": "Checkout is down",
                "monitors": ["1", "2"],
                "confirm_duplicate": "1",
            },
            headers={"X-CSRFToken": token},
        )
        path = re.search(r'href="(/projects/watch/incidents/\d+/)"', response.text)
        if response.status_code != 200 or path is None:
            raise RuntimeError(f"declaring failed: HTTP {response.status_code}")
        return path.group(1)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.pages_ms: list[float] = []
        self.polls_ms: list[float] = []
        self.posts_ms: list[float] = []
        self.errors: list[str] = []
        self.seen_updates: set[str] = set()

    def add(self, kind: str, elapsed_ms: float, response: httpx.Response | None) -> None:
        with self.lock:
            getattr(self, f"{kind}_ms").append(elapsed_ms)
            if response is None or response.status_code != 200:
                status = "no answer" if response is None else f"HTTP {response.status_code}"
                self.errors.append(f"{kind}: {status}")
            elif kind == "polls":
                self.seen_updates.update(re.findall(r"Bench update \d", response.text))


def watcher(number: int, session: str, path: str, recorder: Recorder, started: float) -> None:
    stop_at = started + DURATION_S
    with httpx.Client(base_url=CONSOLE, cookies={"sessionid": session}, timeout=30) as http:

        def timed(kind: str, method: str, url: str, **kwargs) -> httpx.Response | None:
            begun = time.perf_counter()
            try:
                response = http.request(method, url, **kwargs)
            except httpx.HTTPError:
                response = None
            recorder.add(kind, (time.perf_counter() - begun) * 1000, response)
            return response

        time.sleep(random.uniform(0, POLL_S))  # people open the page at different moments
        page = timed("pages", "GET", path)
        token = csrf_token(page.text) if page is not None else ""
        posts = list(POST_AT_S) if number < POSTERS else []
        post_at = posts[number] if posts else None
        next_poll = time.monotonic() + POLL_S
        while time.monotonic() < stop_at:
            now = time.monotonic()
            if post_at is not None and now - started >= post_at:
                timed(
                    "posts",
                    "POST",
                    path + "updates/",
                    data={
                        "submission_key": str(uuid.uuid4()),
                        "state": "identified",
                        "content": f"Bench update {number}",
                        "timezone": "UTC",
                    },
                    headers={"HX-Request": "true", "X-CSRFToken": token},
                )
                post_at = None
            if now >= next_poll:
                timed("polls", "GET", path, params={"live": "1"}, headers={"HX-Request": "true"})
                next_poll += POLL_S
            time.sleep(0.05)


def sandbox_requests() -> int:
    return httpx.get(f"{SANDBOX}/__sandbox__/state").json()["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not postgres_available(POSTGRES_URL):
        sys.exit(f"PostgreSQL is needed at {POSTGRES_URL}")
    ensure_postgres_database(POSTGRES_URL, fresh=True)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "phare_sandbox", "--port", str(SANDBOX_PORT), "--token", TOKEN]
        + ["--latency-ms", str(LATENCY_MS)],
        cwd=ROOT,
    )
    processes = [sandbox]
    try:
        wait_until_up(f"{SANDBOX}/")
        sessions = prepare_database()
        processes.append(
            start_console(CONSOLE_PORT, server_env(), workers=WORKERS, threads=THREADS)
        )
        path = declare(sessions[0])
        time.sleep(1)  # let the declaration's own calls settle out of the measured minute
        before = sandbox_requests()
        recorder = Recorder()
        started = time.monotonic()
        threads = [
            threading.Thread(target=watcher, args=(n, sessions[n], path, recorder, started))
            for n in range(WATCHERS)
        ]
        print(f"{WATCHERS} watchers for {DURATION_S} s…", file=sys.stderr)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        calls = sandbox_requests() - before
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    section = report(recorder, calls)
    print(section)
    if not args.no_write:
        write_benchmarks(
            section,
            marker="watchers",
            heading="Fifty people watching one incident (`make bench-watchers`, bench/watchers.py)",
        )


def report(recorder: Recorder, calls: int) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    pages, polls, posts = recorder.pages_ms, recorder.polls_ms, recorder.posts_ms

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} / {percentile(values, 0.95):.1f} ms"

    rows = [
        ("calls to Phare in the minute (writes and read-backs included)", "≤ 15", str(calls)),
        ("page loads", "", str(len(pages))),
        ("page load p50 / p95", "", spread(pages)),
        ("polls", "", str(len(polls))),
        ("poll p50 / p95", "p50 ≤ 30 ms", spread(polls)),
        ("updates posted", str(POSTERS), str(len(posts))),
        ("update post p50 / p95", "", spread(posts) if posts else "—"),
        (
            "posted updates seen in the watchers' polls",
            str(POSTERS),
            str(len(recorder.seen_updates)),
        ),
        ("errors", "0", str(len(recorder.errors)) + _sample(recorder.errors)),
    ]
    lines = [
        f"Measured {date} on {machine()}. Console under gunicorn ({WORKERS} workers × "
        f"{THREADS} threads), PostgreSQL and Redis on the same machine; sandbox with "
        f"{LATENCY_MS} ms latency and Phare's limit of 100 calls a minute; {WATCHERS} people "
        f"with the incident's page open for {DURATION_S} s, each polling every {POLL_S} s as "
        f"the page does, {POSTERS} of them posting an update. Phare calls are counted by the "
        "sandbox.",
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
