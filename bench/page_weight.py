"""Page weight: the bytes of the project page's first load, as the browser receives them.

    python bench/page_weight.py            # or: make bench-page-weight

Starts two Phare sandboxes (36 monitors, the sandbox's default, and 10,000) and the console
under gunicorn with production settings (DEBUG off, `collectstatic` done, so WhiteNoise serves
the compressed static files), one project on each sandbox's monitors. For each project, a
logged-in responder opens the project page in Debian's Chromium with a fresh browser context
(an empty cache) and every request of the first load is recorded through the DevTools protocol:
`Network.loadingFinished`'s encodedDataLength is what came over the wire, response headers
included. Prints, per load, each resource (status, Content-Encoding, header and body bytes) and
the total, and counts requests to another origin than the console's (the goal: 0). Writes the
tables into BENCHMARKS.md.

The goal (issue 14): the first load ≤ 40 KB (40,960 bytes) transferred, 0 external requests.
Should the browser not ask for the favicon by itself (older headless modes did not), the script
fetches it from the page once the load is over, so it counts as in a visible tab.
"""

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    console_env,
    logged_in_session,
    machine,
    migrate_and_setup,
    start_console,
    write_benchmarks,
)

GOAL_BYTES = 40 * 1024
CONSOLE_PORT = 8731
CONSOLE = f"http://127.0.0.1:{CONSOLE_PORT}"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# (project name, monitors in its sandbox, token)
LEGS = [("Shop", 36, "pha_bench_weight_36"), ("Fleet", 10_000, "pha_bench_weight_10000")]


def server_env(database: Path, phare_url: str) -> dict[str, str]:
    # The copies were just read: opening the page reads nothing from Phare in the background,
    # so the page is the same for every load.
    return console_env(
        database_url=f"sqlite:///{database}", phare_api_url=phare_url, MONITOR_SYNC_TTL="86400"
    )


def prepare_database(env: dict[str, str], sandboxes: list) -> tuple[str, list[tuple[str, int]]]:
    """Migrate and collect the static files; add a responder and one project per sandbox with
    its monitors copied. Returns the responder's session key and (page path, monitors) per
    project."""
    migrate_and_setup(env)
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from incidents import services
    from incidents.models import Membership

    settings.PHARE_RATE_LIMIT = 1_000_000  # the 10,000 monitors' read is not what we measure
    person = get_user_model().objects.create_user("oncall", password="oncall-bench-password-1")
    pages = []
    for (name, _, token), sandbox in zip(LEGS, sandboxes, strict=True):
        settings.PHARE_API_URL = sandbox.url
        project, _ = services.project_provision(name=name, token=token)
        synced = services.monitor_sync(actor=None, project=project)
        Membership.objects.create(project=project, user=person, role=Membership.Role.RESPONDER)
        pages.append((project.get_absolute_url(), synced.total))
    return logged_in_session(person), pages


@dataclass
class Resource:
    url: str
    kind: str
    status: int = 0
    encoding: str = ""
    cache_control: str = ""
    header_bytes: int = 0
    wire_bytes: int = 0
    from_cache: bool = False
    failed: str = ""

    @property
    def body_bytes(self) -> int:
        return max(0, self.wire_bytes - self.header_bytes)


@dataclass
class Load:
    monitors: int
    resources: list[Resource]  # the first load's
    html_bytes: int  # the page's HTML, decompressed
    accept_encoding: str
    repeat_requests: int  # the second load's requests that went to the network…
    repeat_bytes: int  # …and their bytes

    @property
    def total(self) -> int:
        return sum(resource.wire_bytes for resource in self.resources)

    @property
    def external(self) -> list[str]:
        return [r.url for r in self.resources if not r.url.startswith(CONSOLE + "/")]


class Recorder:
    """Every request of a page, from the DevTools protocol's Network events."""

    def __init__(self, cdp) -> None:
        self.resources: dict[str, Resource] = {}
        self.accept_encoding = ""
        cdp.on("Network.requestWillBeSent", self.sent)
        cdp.on("Network.requestWillBeSentExtraInfo", self.sent_headers)
        cdp.on("Network.requestServedFromCache", self.cached)
        cdp.on("Network.responseReceived", self.received)
        cdp.on("Network.loadingFinished", self.finished)
        cdp.on("Network.loadingFailed", self.failed)
        cdp.send("Network.enable")

    def taken(self) -> list[Resource]:
        """The requests recorded so far (data: URLs are no request), and a fresh record."""
        resources, self.resources = list(self.resources.values()), {}
        return [r for r in resources if not r.url.startswith("data:")]

    def sent(self, event: dict) -> None:
        self.resources.setdefault(
            event["requestId"], Resource(url=event["request"]["url"], kind=event.get("type", ""))
        )

    def sent_headers(self, event: dict) -> None:
        """The headers as sent (the network stack adds Accept-Encoding)."""
        headers = {key.lower(): value for key, value in event.get("headers", {}).items()}
        self.accept_encoding = self.accept_encoding or headers.get("accept-encoding", "")

    def cached(self, event: dict) -> None:
        if event["requestId"] in self.resources:
            self.resources[event["requestId"]].from_cache = True

    def received(self, event: dict) -> None:
        response = event["response"]
        resource = self.resources.setdefault(
            event["requestId"], Resource(url=response["url"], kind=event["type"])
        )
        headers = {key.lower(): value for key, value in response.get("headers", {}).items()}
        resource.status = response["status"]
        resource.encoding = headers.get("content-encoding", "")
        resource.cache_control = headers.get("cache-control", "")
        resource.header_bytes = int(response.get("encodedDataLength", 0))
        resource.from_cache |= bool(response.get("fromDiskCache"))

    def finished(self, event: dict) -> None:
        if event["requestId"] in self.resources:
            self.resources[event["requestId"]].wire_bytes = int(event["encodedDataLength"])

    def failed(self, event: dict) -> None:
        if event["requestId"] in self.resources:
            self.resources[event["requestId"]].failed = event.get("errorText", "failed")


def measure(
    browser, session_key: str, path: str, monitors: int, save_html: str | None = None
) -> Load:
    """Open `path` in a fresh context (empty cache), logged in, and record every request of the
    load; then open it again in the same context (the static files cached)."""
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session_key, "url": CONSOLE}])
    page = context.new_page()
    page.set_default_timeout(30_000)
    recorder = Recorder(context.new_cdp_session(page))
    response = page.goto(f"{CONSOLE}{path}", wait_until="networkidle")
    assert response is not None and response.status == 200, response
    assert page.locator("#incident-form").count() == 1, "not the project page, logged in"
    if not any(r.url.endswith(".svg") for r in recorder.resources.values()):
        page.evaluate(
            "async () => { const icon = document.querySelector('link[rel=icon]');"
            " if (icon) await fetch(icon.href); }"
        )
        page.wait_for_load_state("networkidle")
    html = response.body()
    if save_html:
        Path(save_html, f"{path.strip('/').replace('/', '-')}.html").write_bytes(html)
    first = recorder.taken()
    failures = [f"{r.url}: {r.failed}" for r in first if r.failed or r.status >= 400]
    assert not failures, failures
    page.goto(f"{CONSOLE}{path}", wait_until="networkidle")
    again = [r for r in recorder.taken() if not r.from_cache and r.wire_bytes]
    context.close()
    return Load(
        monitors=monitors,
        resources=first,
        html_bytes=len(html),
        accept_encoding=recorder.accept_encoding,
        repeat_requests=len(again),
        repeat_bytes=sum(r.wire_bytes for r in again),
    )


def label(resource: Resource) -> str:
    path = urlsplit(resource.url).path
    if resource.kind == "Document":
        return "HTML (the page)"
    if "htmx" in path:
        return "htmx"
    if path.endswith(".css"):
        return "CSS"
    if path.endswith(".js"):
        return "console.js"
    if path.endswith(".svg"):
        return "favicon"
    return path


def static_caching(loads: list[Load]) -> str:
    values = {r.cache_control for load in loads for r in load.resources if r.kind != "Document"}
    return " / ".join(sorted(values)) or "?"


def table(loads: list[Load]) -> str:
    lines = [
        "| Project | Resource | Status | Content-Encoding | Headers | Body (decoded) | "
        "On the wire |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for load in loads:
        project = f"{load.monitors:,} monitors"
        for resource in load.resources:
            decoded = f" ({load.html_bytes:,})" if resource.kind == "Document" else ""
            lines.append(
                f"| {project} | {label(resource)} | {resource.status} "
                f"| {resource.encoding or 'none'} | {resource.header_bytes:,} B "
                f"| {resource.body_bytes:,} B{decoded} | {resource.wire_bytes:,} B |"
            )
        verdict = "met" if load.total <= GOAL_BYTES and not load.external else "missed"
        lines.append(
            f"| **{project}** | **first load: {len(load.resources)} requests, "
            f"{len(load.external)} external** | | | | "
            f"| **{load.total:,} B = {load.total / 1024:.1f} KB ({verdict})** |"
        )
        lines.append(
            f"| {project} | the same page again (static files cached): "
            f"{load.repeat_requests} request{'s' if load.repeat_requests != 1 else ''} "
            f"to the network | | | | | {load.repeat_bytes:,} B |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--save-html", metavar="DIR", help="keep each page's HTML there")
    args = parser.parse_args()
    if not shutil.which(CHROMIUM):
        sys.exit(f"Chromium is needed at {CHROMIUM} (apt-get install -y chromium)")
    sys.path.insert(0, str(ROOT))
    from phare_sandbox import SandboxState, start_in_thread

    sandboxes = [
        start_in_thread(SandboxState(token=token, monitor_count=count, rate_limit=None))
        for _, count, token in LEGS
    ]
    folder = Path(tempfile.mkdtemp(prefix="bench-weight-"))
    env = server_env(folder / "db.sqlite3", sandboxes[0].url)
    console = None
    loads: list[Load] = []
    try:
        session_key, pages = prepare_database(env, sandboxes)
        console = start_console(CONSOLE_PORT, env)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            for path, monitors in pages:
                loads.append(measure(browser, session_key, path, monitors, args.save_html))
            browser.close()
    finally:
        if console is not None:
            console.terminate()
            console.wait(timeout=10)
        for sandbox in sandboxes:
            sandbox.stop()
        shutil.rmtree(folder, ignore_errors=True)
    for load in loads:
        for url in load.external:
            print(f"external request: {url}", file=sys.stderr)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join(
        [
            f"Measured {date} on {machine()}. The project page opened by a logged-in responder "
            "in Debian's Chromium (headless, a fresh context: empty cache), the console under "
            "gunicorn with production settings (DEBUG off, collectstatic, WhiteNoise); bytes on "
            "the wire from the DevTools protocol (`Network.loadingFinished` encodedDataLength, "
            'response headers included; "Headers" is the part received before the body). '
            f"Goal: ≤ {GOAL_BYTES:,} B (40 KB) and no request to another origin. The browser "
            f"sent `Accept-Encoding: {loads[0].accept_encoding if loads else '?'}`; the static "
            f"files came with `Cache-Control: {static_caching(loads)}`, so the same page again "
            "fetches the HTML alone (last row of each project).",
            "",
            table(loads),
        ]
    )
    print(section)
    if not args.no_write:
        write_benchmarks(
            section, marker="page-weight", heading="Page weight (`make bench-page-weight`)"
        )


if __name__ == "__main__":
    main()
