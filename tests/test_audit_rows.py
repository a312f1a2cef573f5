"""The audit log's rows (templatetags/audit_log.py): what each cell shows, escaped, in a
number of queries that does not grow with the page."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import audit_chain
from incidents.models import AuditEntry

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"


def rows_of(html: str) -> list[str]:
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


def test_each_cell_shows_the_entry_escaped(alice_client, project):
    project.name = f"Shop {HOSTILE}"
    project.save()
    entry = audit_chain.append(
        AuditEntry(
            project=project,
            actor_username=f"eve {HOSTILE}",
            action=AuditEntry.Action.INCIDENT_CREATE_FINISHED,
            outcome=AuditEntry.Outcome.REJECTED,
            title=f"Checkout {HOSTILE}",
            phare_incident_slug=f"INC-{HOSTILE}",
            http_status=422,
        )
    )
    html = alice_client.get(reverse("incidents:audit_list")).content.decode()
    row = rows_of(html)[0]
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quoted&#x27;"
    assert HOSTILE not in html
    assert f'href="{entry.get_absolute_url()}"' in row
    assert f'<td data-label="Actor">eve {escaped}</td>' in row
    assert f'<td data-label="Project">Shop {escaped}</td>' in row
    assert '<td data-label="Action">Create incident: answered</td>' in row
    assert '<span class="outcome outcome-rejected">Rejected by Phare</span>' in row
    assert f'<td data-label="Title">Checkout {escaped}</td>' in row
    assert f'<td class="nowrap" data-label="Phare">INC-{escaped}</td>' in row
    assert '<td data-label="HTTP">422</td>' in row
    assert f'<time datetime="{entry.created_at.isoformat().replace("+00:00", "Z")}"' in row


def test_an_entry_without_actor_or_status_shows_a_dash_and_no_status(alice_client, project):
    audit_chain.append(
        AuditEntry(project=project, action=AuditEntry.Action.CREDENTIAL_SET, outcome="recorded")
    )
    row = rows_of(alice_client.get(reverse("incidents:audit_list")).content.decode())[0]
    assert '<td data-label="Actor">—</td>' in row
    assert '<td data-label="Action">Token set</td>' in row
    assert '<td data-label="HTTP"></td>' in row


def test_a_page_costs_the_same_queries_with_1_entry_or_50(alice_client, project):
    call_command("seed_audit", "--count", "1", "--days", "1", stdout=io.StringIO())
    url = reverse("incidents:audit_list")
    alice_client.get(url)  # the session's first write after the login
    with CaptureQueriesContext(connection) as few:
        alice_client.get(url)
    call_command("seed_audit", "--count", "80", "--days", "1", stdout=io.StringIO())
    with CaptureQueriesContext(connection) as full:
        html = alice_client.get(url).content.decode()
    assert len(rows_of(html)) == 50
    assert len(full.captured_queries) == len(few.captured_queries)


def test_the_filter_form_keeps_the_chosen_project_action_and_outcome(alice_client, project):
    query = {"project": project.slug, "action": "credential.set", "outcome": "recorded"}
    html = alice_client.get(reverse("incidents:audit_list"), query).content.decode()
    assert f'<option value="{project.slug}" selected>{project.name}</option>' in html
    assert '<option value="credential.set" selected>Token set</option>' in html
    assert '<option value="recorded" selected>Recorded</option>' in html
    assert html.count(" selected>") == 3
    assert '<option value="credential.cleared">Token cleared</option>' in html
