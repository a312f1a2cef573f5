"""Declare in seconds: what a person does to declare an incident, counted and timed.

    python bench/declare.py            # or: make bench-declare

Starts the Phare sandbox and the console (gunicorn, SQLite in a temporary folder), with one
incident template, then has a scripted person in Debian's Chromium declare an incident from the
project page in five ways: with the mouse, with the keyboard only, from a template with the
mouse, from a template with the keyboard, and from a prefill link. Counts the person's actions
(clicks, key presses besides typed text, groups of typed text) and times each declaration from
the loaded page to the created result on screen (median of ROUNDS). Prints a table and writes it
into BENCHMARKS.md.

The duplicate check is off here (DUPLICATE_WINDOW_MINUTES=0): the same person declares the same
incident several times in a row, which the console would rightly question.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    console_env,
    machine,
    migrate_and_setup,
    start_console,
    wait_until_up,
    write_benchmarks,
)

ROUNDS = 5
TOKEN = "pha_bench_declare_token"
SANDBOX_PORT, CONSOLE_PORT = 8721, 8722
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
CONSOLE = f"http://127.0.0.1:{CONSOLE_PORT}"
USERNAME, PASSWORD = "oncall", "oncall-bench-password-1"
TEMPLATE = "Checkout API down"
TITLE = "Checkout API answers 502"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The goals, per way of declaring: (most actions, most key presses), None = no goal.
GOALS = {
    "mouse": (None, None),
    "keyboard": (None, 20),
    "template, mouse": (4, None),
    "template, keyboard": (None, 6),
    "prefill link": (2, None),
}


def server_env(database: Path) -> dict[str, str]:
    return console_env(
        database_url=f"sqlite:///{database}", phare_api_url=SANDBOX, DUPLICATE_WINDOW_MINUTES="0"
    )


def prepare_database(env: dict[str, str]) -> tuple[str, list[str]]:
    """Migrate; add the person, the project and its template. Returns the project's page path
    and the names of the two monitors the template and the typed paths use."""
    migrate_and_setup(env)
    from django.contrib.auth import get_user_model

    from incidents import services
    from incidents.models import Membership

    superuser = get_user_model().objects.create_superuser("bench-admin", password=PASSWORD)
    person = get_user_model().objects.create_user(USERNAME, password=PASSWORD)
    project, _ = services.project_provision(name="Shop", token=TOKEN)
    services.monitor_sync(actor=None, project=project)
    Membership.objects.create(project=project, user=person, role="responder")
    monitors = list(project.monitors.order_by("phare_id")[:2])
    services.incident_template_create(
        actor=superuser,
        project=project,
        values={
            "name": TEMPLATE,
            "impact": "major_outage",
            "title": TITLE,
            "description": "Payments fail at checkout; we are looking into it.",
            "monitors": [monitor.phare_id for monitor in monitors],
            "exclude_from_downtime": False,
        },
    )
    return project.get_absolute_url(), [monitor.name for monitor in monitors]


@dataclass
class Person:
    """A scripted person at the browser, counting what they do."""

    page: object
    clicks: int = 0
    presses: int = 0
    typed: int = 0  # groups of typed text (a title, a search)
    notes: list[str] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return self.clicks + self.presses + self.typed

    def click(self, locator) -> None:
        self.clicks += 1
        locator.click()

    def press(self, key: str) -> None:
        self.presses += 1
        self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.typed += 1
        self.page.keyboard.type(text)

    def tab_to(self, locator, most: int = 15) -> None:
        for _ in range(most):
            self.press("Tab")
            if locator.evaluate("element => element === document.activeElement"):
                return
        raise RuntimeError(f"{locator} not reached in {most} Tab presses")


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def by_mouse(person: Person, monitors: list[str]) -> None:
    page = person.page
    person.click(page.get_by_role("radio", name="Major outage"))
    person.click(page.get_by_label("Title"))
    person.type(TITLE)
    person.click(page.get_by_label("Monitors", exact=True))
    person.type(monitors[0])
    person.click(page.locator("#monitor-options li", has_text=monitors[0]).get_by_role("checkbox"))
    person.click(page.get_by_role("button", name="Create incident"))


def by_keyboard(person: Person, monitors: list[str]) -> None:
    page = person.page
    person.press("Tab")  # the skip link
    person.press("Enter")
    person.tab_to(page.get_by_role("radio", name="Major outage"))
    person.press("Space")
    person.tab_to(page.get_by_label("Title"))
    person.type(TITLE)
    person.tab_to(page.get_by_label("Monitors", exact=True))
    person.type(monitors[0])
    page.locator("#monitor-options li", has_text=monitors[0]).first.wait_for()
    person.press("ArrowDown")
    person.press("Enter")
    person.press("Control+Enter")


def from_template_by_mouse(person: Person, monitors: list[str]) -> None:
    page = person.page
    person.click(page.get_by_role("link", name=TEMPLATE))
    expect(page.locator("#id_title")).to_have_value(TITLE)
    person.click(page.get_by_role("button", name="Create incident"))


def from_template_by_keyboard(person: Person, monitors: list[str]) -> None:
    page = person.page
    template = page.get_by_role("link", name=TEMPLATE)
    if not template.evaluate("element => element === document.activeElement"):
        person.tab_to(template)
    person.press("Enter")
    expect(page.locator("#id_title")).to_have_value(TITLE)
    person.press("Enter")


def from_prefill_link(person: Person, monitors: list[str]) -> None:
    page = person.page
    expect(page.locator("#id_title")).to_have_value(TITLE)
    person.click(page.get_by_role("button", name="Create incident"))


@dataclass(frozen=True)
class Way:
    name: str
    act: Callable[[Person, list[str]], None]
    prefill: bool = False


WAYS = [
    Way("mouse", by_mouse),
    Way("keyboard", by_keyboard),
    Way("template, mouse", from_template_by_mouse),
    Way("template, keyboard", from_template_by_keyboard),
    Way("prefill link", from_prefill_link, prefill=True),
]


def prefill_query(monitors: list[str]) -> str:
    return urlencode({"impact": "major_outage", "title": TITLE, "monitors": ",".join(monitors)})


def measure(browser, project_path: str, monitors: list[str]) -> dict[str, dict]:
    context = browser.new_context(timezone_id="Europe/Paris", locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{CONSOLE}/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    results: dict[str, dict] = {}
    for way in WAYS:
        seconds, person = [], None
        for _ in range(ROUNDS):
            url = f"{CONSOLE}{project_path}"
            if way.prefill:
                url = f"{CONSOLE}{project_path}incidents/new/?{prefill_query(monitors)}"
            page.goto(url)
            page.locator("#incident-form").wait_for()
            person = Person(page)
            started = time.perf_counter()
            way.act(person, monitors)
            expect(page.locator("#created-result")).to_contain_text("created")
            seconds.append(time.perf_counter() - started)
        assert person is not None
        # Opening the link is the first action of the prefill way (the person looks, then
        # presses Create).
        opened = 1 if way.prefill else 0
        results[way.name] = {
            "clicks": person.clicks,
            "presses": person.presses,
            "typed": person.typed,
            "actions": person.actions + opened,
            "median_s": statistics.median(seconds),
        }
    context.close()
    return results


def table(results: dict[str, dict]) -> str:
    lines = [
        "| Way | Actions | Clicks | Key presses | Typed texts | Goal | Median time |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, row in results.items():
        most_actions, most_presses = GOALS[name]
        goals = []
        if most_actions is not None:
            goals.append(
                f"≤ {most_actions} actions: {'met' if row['actions'] <= most_actions else 'missed'}"
            )
        if most_presses is not None:
            goals.append(
                f"≤ {most_presses} presses: {'met' if row['presses'] <= most_presses else 'missed'}"
            )
        lines.append(
            f"| {name} | {row['actions']} | {row['clicks']} | {row['presses']} | {row['typed']} "
            f"| {'; '.join(goals) or '–'} | {row['median_s']:.2f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not shutil.which(CHROMIUM):
        sys.exit(f"Chromium is needed at {CHROMIUM} (apt-get install -y chromium)")
    folder = Path(tempfile.mkdtemp(prefix="bench-declare-"))
    env = server_env(folder / "db.sqlite3")
    processes = []
    try:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "phare_sandbox", "--port", str(SANDBOX_PORT)]
                + ["--token", TOKEN],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_until_up(f"{SANDBOX}/")
        project_path, monitors = prepare_database(env)
        processes.append(start_console(CONSOLE_PORT, env))
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            results = measure(browser, project_path, monitors)
            browser.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    section = "\n".join(
        [
            f"Measured {date} on {machine()}. A scripted person in Chromium (1280×800) declares "
            "an incident from the project page; the time runs from the loaded page to the "
            f"created result on screen, median of {ROUNDS} rounds (the console under gunicorn "
            "with SQLite, the sandbox answering at once: the seconds are the machine's, the "
            "counts are the person's). An action is a click, a key press or a group of typed "
            "text; opening a prefill link counts as one.",
            "",
            table(results),
        ]
    )
    print(section)
    if not args.no_write:
        write_benchmarks(section, marker="declare", heading="Declaring an incident (issue 13)")


if __name__ == "__main__":
    main()
