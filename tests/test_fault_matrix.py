"""Every way Phare, the network or the console's budget can fail a create, through the real
HTTP stack against the sandbox: a clear message, the form kept, the right audit outcome, never
a 500, and never two incidents, including after pressing the button again."""

import socket
from dataclasses import dataclass

import pytest
from django.urls import reverse

from incidents.models import AuditEntry, IncidentAttempt
from tests.helpers import HTMX, clear_rate_budget, incident_form_data

pytestmark = pytest.mark.django_db
TITLE = "Payments API answers 5xx"


@dataclass(frozen=True)
class Case:
    fault: dict
    status: int  # the console's answer
    message: str  # part of what the page says
    outcome: str  # the audit entry of Phare's answer
    created: int  # incidents in the sandbox after the first press


CREATED = "Incident DEMO-1 created"
BROKE = "The connection to Phare broke before it answered"
UNREADABLE = "its body was not readable JSON"
NO_WRITE = '{"message": "Missing permission uptime:write."}'
LATE = {"action": "process_then_delay"}
CASES = {
    "latency_within_timeout": Case(LATE | {"delay_ms": 300}, 200, CREATED, "created", 1),
    "accepted_then_timed_out": Case(
        LATE | {"delay_ms": 1500}, 504, "Phare did not answer in time", "unknown", 1
    ),
    "500": Case({"status": 500}, 503, "Phare is having trouble (500)", "failed", 0),
    "502": Case({"status": 502}, 504, "Phare&#x27;s gateway answered 502", "unknown", 0),
    "503": Case({"status": 503}, 503, "Phare is having trouble (503)", "failed", 0),
    "429_short_retry_after": Case({"status": 429, "retry_after": 0}, 200, CREATED, "created", 1),
    "429_long_retry_after": Case(
        {"status": 429, "retry_after": 120}, 429, "Try again in 121 s", "failed", 0
    ),
    "non_json_body": Case({"status": 201, "body": "<p>OK</p>"}, 504, UNREADABLE, "unknown", 0),
    "empty_body": Case({"status": 201, "body": ""}, 504, UNREADABLE, "unknown", 0),
    "truncated_body": Case({"action": "process_then_truncate"}, 504, BROKE, "unknown", 1),
    "dropped_before_processing": Case({"action": "drop"}, 504, BROKE, "unknown", 0),
    "dropped_after_processing": Case({"action": "process_then_drop"}, 504, BROKE, "unknown", 1),
    "401": Case({"status": 401}, 502, "Phare rejected the project&#x27;s token", "failed", 0),
    "403": Case(
        {"status": 403, "body": NO_WRITE},
        502,
        "The token lacks a permission (403): Missing permission uptime:write.",
        "failed",
        0,
    ),
}


def create(client, project, data):
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    return client.post(url, data, **HTMX)


def form_data(project) -> dict:
    return incident_form_data(
        title=TITLE,
        description="Card payments fail in every region.",
        monitors=[str(project.monitors.order_by("phare_id").first().phare_id)],
    )


@pytest.mark.parametrize("name", list(CASES))
def test_fault_matrix(alice_client, project, sandbox, settings, name):
    case = CASES[name]
    settings.PHARE_TIMEOUT = 0.5
    sandbox.state.add_fault(route="create_incident", **case.fault)
    data = form_data(project)

    response = create(alice_client, project, data)
    html = response.content.decode()
    assert response.status_code == case.status
    assert case.message in html
    finished = AuditEntry.objects.filter(action="incident.create.finished").get()
    assert finished.outcome == case.outcome
    assert len(sandbox.state.incidents) == case.created
    if case.outcome != "created":
        # Everything typed is still there, with the same key, and the way out is explained.
        assert f'value="{TITLE}"' in html
        assert "Card payments fail in every region." in html
        assert f'value="{data["submission_key"]}"' in html
        assert "first looks for this incident in Phare" in html

    # Pressing the button again (the same key) ends with exactly one incident.
    clear_rate_budget(settings)  # as if a long Retry-After had passed
    again = create(alice_client, project, data)
    assert again.status_code == 200, again.content.decode()[:500]
    assert "Incident DEMO-1 created" in again.content.decode()
    assert len(sandbox.state.incidents) == 1
    assert IncidentAttempt.objects.get().state == "created"


def test_phare_unreachable_retries_the_connection_then_explains(
    alice_client, project, sandbox, settings
):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.PHARE_API_URL = f"http://127.0.0.1:{port}"  # nothing listens there
    data = form_data(project)
    response = create(alice_client, project, data)
    assert response.status_code == 503
    html = response.content.decode()
    assert "Phare could not be reached (connection failed 3 times). Nothing was sent" in html
    assert f'value="{TITLE}"' in html
    assert AuditEntry.objects.filter(action="incident.create.finished").get().outcome == "failed"
    assert sandbox.state.create_requests == []


def test_a_failed_lookup_before_a_retry_sends_nothing(alice_client, project, sandbox, settings):
    settings.PHARE_TIMEOUT = 0.5
    sandbox.state.add_fault(route="create_incident", action="process_then_delay", delay_ms=1500)
    data = form_data(project)
    assert create(alice_client, project, data).status_code == 504
    sandbox.state.add_fault(route="list_incidents", status=503)
    again = create(alice_client, project, data)
    assert again.status_code == 503
    assert "looks for it in Phare, and that failed, so nothing was sent" in again.content.decode()
    assert len(sandbox.state.create_requests) == 1
    attempt = IncidentAttempt.objects.get()
    assert attempt.state == "unknown"  # still: the next press looks again
    third = create(alice_client, project, data)
    assert "the console found it there" in third.content.decode()
    assert len(sandbox.state.incidents) == 1


def test_reconcile_attempts_settles_unknown_outcomes_from_the_command_line(
    alice_client, project, sandbox, settings
):
    from io import StringIO

    from django.core.management import call_command

    settings.PHARE_TIMEOUT = 0.5
    sandbox.state.add_fault(route="create_incident", action="process_then_delay", delay_ms=1500)
    create(alice_client, project, form_data(project) | {"title": "Created late"})
    sandbox.state.add_fault(route="create_incident", status=201, delay_ms=1500)
    create(alice_client, project, form_data(project) | {"title": "Never created", "monitors": []})
    assert list(IncidentAttempt.objects.values_list("state", flat=True)) == ["unknown"] * 2

    out = StringIO()
    call_command("reconcile_attempts", "--older-than", "0", stdout=out)
    states = dict(IncidentAttempt.objects.values_list("payload__title", "state"))
    assert states == {"Created late": "created", "Never created": "failed"}
    assert "“Created late”" in out.getvalue() and "created in Phare as DEMO-1" in out.getvalue()
    assert len(sandbox.state.create_requests) == 2  # it only read
    assert len(sandbox.state.incidents) == 1
