"""Preview on the create form: the exact request Create incident would send (JSON body and curl),
validated as Create validates, with nothing sent, claimed or audited and no secret shown."""

import html
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from incidents import credentials
from incidents.models import AuditEntry, IncidentAttempt
from incidents.phare import IncidentPayload, PhareClient, PhareError, describe_create_request
from tests.helpers import (
    HTMX,
    MOCKED_TOKEN,
    SANDBOX_TOKEN,
    assert_strict_csp,
    incident_form_data,
    project_with_token,
)

pytestmark = pytest.mark.django_db


# Quotes, a command substitution, a newline and non-ASCII: the curl must carry them as typed.
DESCRIPTION = 'It\'s down: $(rm -rf /) `id` "quoted"\nsecond line, Zürich ✓ !!'


def preview_url(project) -> str:
    return reverse("incidents:incident_preview", kwargs={"slug": project.slug})


def create_url(project) -> str:
    return reverse("incidents:incident_create", kwargs={"slug": project.slug})


def full_form(project, **overrides) -> dict:
    first, second = project.monitors.order_by("phare_id")[:2]
    return (
        incident_form_data(
            title="Checkout returns 502",
            description=DESCRIPTION,
            exclude_from_downtime="on",
            incident_at="2026-01-10T09:30",
            recovery_at="2026-01-10T10:00",
            monitors=[str(second.phare_id), str(first.phare_id)],
            q="che",
        )
        | overrides
    )


def block(page: str, block_id: str) -> str:
    """The text of one <pre> block of the preview, as the browser shows it."""
    found = re.search(rf'<pre[^>]* id="{block_id}"[^>]*>(.*?)</pre>', page, re.S)
    assert found, f"no #{block_id} in the answer"
    return html.unescape(found.group(1))


def nothing_recorded() -> tuple[int, int]:
    return IncidentAttempt.objects.count(), AuditEntry.objects.count()


def test_preview_shows_the_body_that_create_then_sends_once(project, sandbox, client_for):
    client = client_for("responder")
    data = full_form(project)
    before = nothing_recorded()

    response = client.post(preview_url(project), data, **HTMX)

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#incident-panel"
    assert_strict_csp(response)
    page = response.content.decode()
    shown = json.loads(block(page, "preview-json"))
    # Nothing sent to Phare, no attempt claimed, no audit entry.
    assert sandbox.state.create_requests == []
    assert nothing_recorded() == before
    # Everything typed is kept, with the same submission key.
    assert f'value="{data["submission_key"]}"' in page
    assert "Checkout returns 502" in page

    created = client.post(create_url(project), data)  # Create after Preview, the same form
    assert created.status_code == 302
    assert sandbox.state.create_requests == [shown]
    assert shown["description"] == DESCRIPTION
    assert shown["monitors"] == [int(key) for key in data["monitors"]]
    attempt = IncidentAttempt.objects.get()
    assert str(attempt.submission_key) == data["submission_key"]
    client.post(create_url(project), data)  # pressed again: still one incident
    assert len(sandbox.state.create_requests) == 1


def test_an_empty_start_is_sent_as_the_time_of_create(project, sandbox, client_for):
    client = client_for("responder")
    data = full_form(project, incident_at="", recovery_at="")
    page = client.post(preview_url(project), data, **HTMX).content.decode()
    shown = json.loads(block(page, "preview-json"))
    assert "Create sends the time you press it" in page
    client.post(create_url(project), data)
    sent = sandbox.state.create_requests[0]
    assert {k: v for k, v in sent.items() if k != "incident_at"} == {
        k: v for k, v in shown.items() if k != "incident_at"
    }
    assert sent["incident_at"] >= shown["incident_at"]


def test_the_curl_command_runs_in_a_posix_shell_as_the_request(project, sandbox, client_for):
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no POSIX shell")
    page = client_for("responder").post(preview_url(project), full_form(project), **HTMX)
    page = page.content.decode()
    command = block(page, "preview-curl")
    body = json.loads(block(page, "preview-json"))
    # A stand-in curl prints its arguments, one per NUL: the shell's reading of the command.
    script = 'curl() { for argument in "$@"; do printf "%s\\0" "$argument"; done; }\n' + command
    ran = subprocess.run(  # noqa: S603 (a fixed shell, our own script)
        [sh, "-c", script],
        env={"PHARE_TOKEN": "token-from-the-environment", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=10,
    )
    arguments = ran.stdout.decode().split("\0")[:-1]
    assert arguments[:3] == ["-X", "POST", f"{sandbox.url}/uptime/incidents"]
    headers = [arguments[i + 1] for i, arg in enumerate(arguments) if arg == "-H"]
    assert "Authorization: Bearer token-from-the-environment" in headers
    assert "Content-Type: application/json" in headers
    assert arguments[-2] == "--data-raw"
    assert json.loads(arguments[-1]) == body
    assert "$(rm -rf /)" in json.loads(arguments[-1])["description"]


def test_the_token_and_its_hint_are_not_in_the_page(project, sandbox, client_for):
    token = credentials.reveal_token(project)
    assert token == SANDBOX_TOKEN
    client = client_for("responder")
    for extra in (HTMX, {}):  # with htmx, and the whole page without JavaScript
        response = client.post(preview_url(project), full_form(project), **extra)
        page = response.content.decode()
        assert response.status_code == 200
        assert "$PHARE_TOKEN" in page
        assert token not in page
        assert project.token_hint not in page


def test_an_invalid_form_shows_its_errors_inline_and_sends_nothing(project, sandbox, client_for):
    before = nothing_recorded()
    data = full_form(project, title="", recovery_at="2026-01-10T09:00")
    response = client_for("responder").post(preview_url(project), data, **HTMX)
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="field-title"' in page and "Give the incident a title." in page
    assert "Recovery cannot be before the incident started." in page
    assert 'id="incident-preview"' not in page
    assert html.escape(DESCRIPTION.split("\n")[0]) in page  # what was typed is kept
    assert sandbox.state.create_requests == []
    assert nothing_recorded() == before


def test_without_javascript_the_whole_page_comes_back_with_the_preview(
    project, sandbox, client_for
):
    data = full_form(project)
    response = client_for("responder").post(preview_url(project), data)
    assert response.status_code == 200
    assert not response.has_header("HX-Retarget")
    page = response.content.decode()
    assert "<html" in page and 'id="recent-incidents"' in page  # the project page
    assert 'id="incident-preview"' in page
    assert json.loads(block(page, "preview-json"))["title"] == "Checkout returns 502"
    assert f'value="{data["submission_key"]}"' in page
    assert 'value="che"' in page  # the monitor search too
    assert sandbox.state.create_requests == []


def test_viewers_may_not_preview(project, sandbox, viewer, client_for):
    response = client_for("viewer").post(preview_url(project), full_form(project), **HTMX)
    assert response.status_code == 403
    assert client_for("viewer").get(preview_url(project)).status_code == 405


def test_an_organization_key_previews_its_project_header(project, sandbox, client_for):
    project.organization_key = True
    project.phare_project_id = 42
    project.save()
    page = client_for("responder").post(preview_url(project), full_form(project), **HTMX)
    assert "-H &#x27;X-Phare-Project-Id: 42&#x27;" in page.content.decode()


def test_an_organization_key_without_project_says_why(project, sandbox, client_for):
    project.organization_key = True
    project.save()
    response = client_for("responder").post(preview_url(project), full_form(project), **HTMX)
    assert response.status_code == 200
    assert "needs the Phare project id or slug" in response.content.decode()


# -- the description of the request against what the client sends (mocked HTTP) -------------


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"organization_key": True, "phare_project_id": 42},
        {"organization_key": True, "phare_project_slug": "luminous-tower"},
    ],
)
def test_the_description_is_what_the_client_sends(mocked_phare, fields):
    project = project_with_token(MOCKED_TOKEN, **fields)
    payload = IncidentPayload(
        impact="major_outage",
        title="Checkout down",
        exclude_from_downtime=False,
        description="Zürich",
        incident_at=datetime(2026, 1, 10, 9, 30, tzinfo=UTC),
        monitors=[3, 1],
    )
    route = mocked_phare.post("/uptime/incidents").respond(500, json={"message": "stop here"})
    described = describe_create_request(project, payload)
    with pytest.raises(PhareError):  # only the request matters here
        PhareClient(project).create_incident(payload)
    sent = route.calls.last.request
    assert (described.method, described.url) == (sent.method, str(sent.url))
    assert described.problem == ""
    for name, value in described.headers.items():
        expected = value.replace("$PHARE_TOKEN", MOCKED_TOKEN)
        assert sent.headers[name] == expected, name
    assert MOCKED_TOKEN not in json.dumps(described.headers) + described.curl()
    assert json.loads(sent.content) == described.body
    assert sent.content.decode() in described.curl()  # the bytes sent, quoted once
