"""A unique canary token drives every page and action, failures and crashes included: it must
appear in no response, log line, error report, audit row, dumpdata output or database file."""

import io
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.views import debug
from django.views.debug import ExceptionReporter

from incidents import services
from incidents.models import AuditEntry, PhareProject
from incidents.phare import transport
from tests.helpers import assert_strict_csp, incident_form_data, make_member

pytestmark = pytest.mark.django_db(transaction=True)
CANARY = f"pha_canary_{uuid.uuid4().hex}"
REPLACEMENT = f"pha_canary_admin_{uuid.uuid4().hex}"
SECRETS = (CANARY, REPLACEMENT)


class Recorder:
    """Every response body and header a client received, in one string."""

    def __init__(self):
        self.seen: list[str] = []

    def record(self, response) -> None:
        body = b"".join(response) if response.streaming else response.content
        self.seen.append(body.decode(errors="replace"))
        self.seen.extend(f"{name}: {value}" for name, value in response.items())

    def text(self) -> str:
        return "\n".join(self.seen)


@pytest.fixture
def canary_project(sandbox, alice, django_user_model) -> PhareProject:
    sandbox.state.add_token(CANARY)
    sandbox.state.add_token(REPLACEMENT)
    project, _ = services.project_provision(name="Canary", token=CANARY)
    services.monitor_sync(actor=None, project=project)
    make_member(alice, project)
    return project


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def formatted_logs(caplog) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def form(project: PhareProject, title: str, monitor: int = 1) -> dict:
    return incident_form_data(title=title, monitors=[str(monitor)], confirm_duplicate="1")


def drive_every_page(client: Client, recorder: Recorder, project, sandbox) -> None:
    slug = {"slug": project.slug}
    create = reverse("incidents:incident_create", kwargs=slug)
    connection_url = reverse("incidents:project_connection_check", kwargs=slug)
    htmx = {"HX-Request": "true"}

    def get(url, data=None, **headers):
        recorder.record(client.get(url, data, headers=headers))

    def post(url, data=None, **headers):
        recorder.record(client.post(url, data or {}, headers=headers))

    get(reverse("incidents:home"))
    get(project.get_absolute_url())
    get(reverse("incidents:monitor_search", kwargs=slug), {"q": "a"}, **htmx)
    post(reverse("incidents:monitor_sync_start", kwargs=slug), **htmx)
    get(reverse("incidents:monitor_sync_status", kwargs=slug), **htmx)
    post(reverse("incidents:incident_form_reload", kwargs=slug), form(project, "Reload"))
    post(create, form(project, "Created"), **htmx)
    post(create, form(project, "Created without JavaScript"))
    sandbox.state.delete_monitor(2)  # the console still offers it: Phare answers 422
    post(create, form(project, "Rejected", monitor=2), **htmx)
    for status in (401, 403, 500, 502):
        sandbox.state.add_fault(route="create_incident", status=status)
        post(create, form(project, f"Phare answered {status}"), **htmx)
    post(connection_url, **htmx)
    for status in (401, 403):
        sandbox.state.add_fault(route="list_monitors", status=status)
        post(connection_url, **htmx)
    post(connection_url)
    get(reverse("incidents:audit_list"))
    for entry in AuditEntry.objects.all():
        get(reverse("incidents:audit_detail", args=[entry.pk]))

    change = reverse("admin:incidents_phareproject_change", args=[project.pk])
    get(reverse("admin:incidents_phareproject_changelist"))
    get(change)
    get(reverse("admin:incidents_auditentry_changelist"))
    for entry in AuditEntry.objects.all():
        get(reverse("admin:incidents_auditentry_change", args=[entry.pk]))
    get(reverse("admin:incidents_incidentattempt_changelist"))
    # A new token typed with a mistake elsewhere: the form comes back without the token.
    admin_form = {
        "name": "",
        "slug": project.slug,
        "token": REPLACEMENT,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    post(change, admin_form)
    post(change, admin_form | {"name": project.name})  # saved this time
    get(change)
    post(connection_url, **htmx)  # with the replaced token
    get(reverse("healthz"))


def assert_nowhere(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a token leaked into {where}"


def test_the_token_never_leaks_from_pages_actions_logs_audit_or_database(
    canary_project, sandbox, logs, django_user_model
):
    root = django_user_model.objects.create_superuser("root")
    client, recorder = Client(), Recorder()
    client.force_login(root)
    drive_every_page(client, recorder, canary_project, sandbox)

    # The drive did what it claims: every kind of answer came back, both tokens reached Phare.
    outcomes = set(AuditEntry.objects.values_list("outcome", flat=True))
    assert {"created", "rejected", "failed", "unknown", "recorded"} <= outcomes
    assert "Token rejected (401)" in recorder.text()
    assert "Missing permission (403)" in recorder.text()
    canary_project.refresh_from_db()
    assert canary_project.token_last4 == REPLACEMENT[-4:]
    assert sandbox.state.tokens_seen >= {CANARY, REPLACEMENT}

    assert_nowhere(recorder.text(), "a response")
    assert_nowhere(formatted_logs(logs), "a log line")
    audit_rows = list(AuditEntry.objects.values())
    assert len(audit_rows) > 10
    assert_nowhere(repr(audit_rows), "an audit row")

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert canary_project.token_ciphertext in dump.getvalue()
    assert_nowhere(dump.getvalue(), "dumpdata")
    assert_nowhere(database_contents(), "the database")


def database_contents() -> str:
    """The database as stored: the SQLite file itself, or every row of every PostgreSQL table."""
    if connection.vendor == "sqlite":
        connection.close()  # checkpoint the WAL, if any, into the file
        name = Path(connection.settings_dict["NAME"])
        files = [name, *(name.with_name(name.name + s) for s in ("-wal", "-journal"))]
        return read_elsewhere([f for f in files if f.exists()]).decode("latin-1")
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT t::text FROM {quoted} t")  # noqa: S608 (names from the catalog)
            rows.extend(row[0] for row in cursor.fetchall())
        return "\n".join(rows)


def read_elsewhere(files: list[Path]) -> bytes:
    """The files' bytes, read by another process. Closing a file drops every POSIX lock its
    process holds on that file, SQLite's included: a connection still open in this process
    (another thread's, or the one Django keeps for the context that ran before Playwright's)
    would lose the shared lock that tells other processes it uses the write-ahead log, and the
    next app server to close its connection would delete the log under it
    (https://www.sqlite.org/howtocorrupt.html, "Posix advisory locks canceled by a separate
    thread doing close()")."""
    read = "import sys; [sys.stdout.buffer.write(open(f, 'rb').read()) for f in sys.argv[1:]]"
    command = [sys.executable, "-c", read, *map(str, files)]
    return subprocess.run(command, capture_output=True, check=True).stdout  # noqa: S603


@pytest.fixture
def crash_while_the_token_is_in_hand(monkeypatch):
    """A crash inside the Phare client, after the Authorization header was built."""

    def explode(*args, **kwargs):
        raise RuntimeError("logging broke mid-request")

    monkeypatch.setattr(transport.logger, "info", explode)


@pytest.mark.parametrize("debug", [True, False])
def test_a_crash_shows_and_reports_no_token(
    canary_project, alice, sandbox, logs, settings, crash_while_the_token_is_in_hand, debug
):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    url = reverse("incidents:incident_create", kwargs={"slug": canary_project.slug})
    response = client.post(url, form(canary_project, "Crash"))
    assert response.status_code == 500
    body = response.content.decode()
    if debug:
        # Django's debug page, with every frame's variables, the client's included.
        assert "logging broke mid-request" in body
        assert "sensitive_variables_wrapper" in body
    else:
        assert "Something went wrong in the console" in body
        assert_strict_csp(response)
    assert_nowhere(body, "the error page")

    # The report mailed to ADMINS (or sent to an error tracker) from the logged error.
    record = next(r for r in logs.records if r.name == "django.request" and r.exc_info)
    reporter = ExceptionReporter(record.request, *record.exc_info)
    assert "_send" in reporter.get_traceback_text()
    assert_nowhere(reporter.get_traceback_html(), "the HTML error report")
    assert_nowhere(reporter.get_traceback_text(), "the text error report")
    assert_nowhere(formatted_logs(logs), "a log line")


@pytest.fixture
def djangos_own_filter(settings):
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    debug.get_default_exception_reporter_filter.cache_clear()  # Django caches the instance
    yield
    debug.get_default_exception_reporter_filter.cache_clear()


def test_without_the_filter_the_debug_page_would_show_the_token(
    canary_project, alice, sandbox, settings, crash_while_the_token_is_in_hand, djangos_own_filter
):
    """Proves the test above can fail: Django's own filter shows the token with DEBUG on."""
    settings.DEBUG = True
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    url = reverse("incidents:incident_create", kwargs={"slug": canary_project.slug})
    body = client.post(url, form(canary_project, "Crash")).content.decode()
    assert CANARY in body
