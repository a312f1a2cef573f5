"""Audit log search: filters, permissions, keyset pages, streamed exports, seeding."""

import csv
import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import audit_chain, audit_search
from incidents.models import AuditEntry, PhareProject
from tests.helpers import HTMX, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(project):
    """The project's provisioning entry plus 120 seeded ones over the last 10 days."""
    call_command("seed_audit", "--count", "120", "--days", "10", stdout=io.StringIO())
    return AuditEntry.objects.count()


@pytest.fixture
def root_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root"))
    return client


def listed(client, **query) -> list[int]:
    response = client.get(reverse("incidents:audit_list"), query)
    return [entry.pk for entry in response.context["page"].entries]


def test_seed_audit_writes_a_valid_chain(seeded):
    provisioning = AuditEntry.objects.filter(actor_username="command line").count()
    assert seeded == 120 + provisioning  # after the project's own entries
    assert audit_chain.first_broken_entry() is None


def test_pages_walk_the_whole_log_newest_first_without_overlap(root_client, seeded):
    seen, query = [], {}
    while True:
        response = root_client.get(reverse("incidents:audit_list"), query)
        page = response.context["page"]
        seen += [entry.pk for entry in page.entries]
        if page.older is None:
            break
        query = {"before": page.older.encode()}
    expected = list(AuditEntry.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert seen == expected


def test_an_older_page_does_not_shift_when_new_entries_arrive(root_client, project, seeded):
    first = root_client.get(reverse("incidents:audit_list")).context["page"]
    second = root_client.get(reverse("incidents:audit_list"), {"before": first.older.encode()})
    for _ in range(10):  # people keep working meanwhile
        audit_chain.append(AuditEntry(project=project, action="credential.set", outcome="recorded"))
    again = root_client.get(reverse("incidents:audit_list"), {"before": first.older.encode()})
    ids = [entry.pk for entry in second.context["page"].entries]
    assert ids == [entry.pk for entry in again.context["page"].entries]
    newer = root_client.get(
        reverse("incidents:audit_list"), {"after": second.context["page"].newer.encode()}
    ).context["page"]
    assert [entry.pk for entry in newer.entries] == [entry.pk for entry in first.entries]


def test_htmx_paging_swaps_only_the_results(root_client, seeded):
    first = root_client.get(reverse("incidents:audit_list")).context["page"]
    response = root_client.get(
        reverse("incidents:audit_list"), {"before": first.older.encode()}, **HTMX
    )
    html = response.content.decode()
    assert html.strip().startswith('<section id="audit-results"')
    assert "<h1>" not in html


@pytest.mark.parametrize("garbage", ["", "x", "-1", "1-", "99999999999999999999-1", "1-2-3"])
def test_a_bad_cursor_shows_the_newest_page(root_client, seeded, garbage):
    response = root_client.get(reverse("incidents:audit_list"), {"before": garbage})
    assert response.status_code == 200


def test_each_filter_narrows_the_log(root_client, project, seeded):
    entries = AuditEntry.objects.all()
    created = entries.filter(outcome="created").order_by("-created_at", "-id").first()
    cases = {
        "actor": ({"actor": "carol"}, entries.filter(actor_username="carol")),
        "action": (
            {"action": "credential.set"},
            entries.filter(action="credential.set"),
        ),
        "outcome": ({"outcome": "rejected"}, entries.filter(outcome="rejected")),
        "title": ({"q": "search is SLOW"}, entries.filter(title__icontains="search is slow")),
        "slug": (
            {"q": created.phare_incident_slug},
            entries.filter(phare_incident_slug=created.phare_incident_slug),
        ),
    }
    for name, (query, expected) in cases.items():
        ids = listed(root_client, **query)
        wanted = list(expected.order_by("-created_at", "-id").values_list("id", flat=True)[:50])
        assert ids == wanted, name
        assert wanted, f"the seed has no entry for {name}"
    day = (timezone.now() - timedelta(days=3)).date()
    ids = listed(root_client, since=day.isoformat(), until=day.isoformat())
    assert ids
    for entry in AuditEntry.objects.filter(pk__in=ids):
        assert entry.created_at.date() == day


def test_users_see_and_export_only_their_projects(project, seeded, django_user_model):
    other = PhareProject.objects.create(name="Other", slug="other")
    call_command("seed_audit", "--count", "20", "--days", "1", stdout=io.StringIO())
    viewer = django_user_model.objects.create_user("vera")
    make_member(viewer, other, "viewer")
    client = Client()
    client.force_login(viewer)
    visible = set(AuditEntry.objects.filter(project=other).values_list("id", flat=True))
    assert set(listed(client)) <= visible
    assert listed(client, project="demo") == []
    rows = list(csv.DictReader(io.StringIO(export(client, "csv"))))
    assert {int(row["id"]) for row in rows} == visible
    assert {row["project"] for row in rows} == {"other"}


def export(client, file_format: str, **query) -> str:
    response = client.get(reverse(f"incidents:audit_export_{file_format}"), query)
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_csv_export_has_a_header_utc_times_and_escaped_formulas(root_client, project, seeded):
    audit_chain.append(
        AuditEntry(
            actor_username="=cmd|' /C calc'!A0",
            project=project,
            action="incident.create.started",
            outcome="pending",
            title='=HYPERLINK("http://evil.example","click")',
            payload={"title": "+1"},
        )
    )
    rows = list(csv.reader(io.StringIO(export(root_client, "csv"))))
    header, newest = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[:4] == ["id", "created_at", "actor", "project"]
    assert len(rows) == AuditEntry.objects.count() + 1
    assert newest["title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert newest["actor"] == "'=cmd|' /C calc'!A0"
    assert newest["created_at"].endswith("Z") and "T" in newest["created_at"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_json_lines_export_follows_the_filter(root_client, seeded):
    lines = export(root_client, "jsonl", outcome="created").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == AuditEntry.objects.filter(outcome="created").count()
    assert {record["outcome"] for record in records} == {"created"}
    assert all(record["created_at"].endswith("Z") for record in records)
    assert isinstance(records[0]["payload"], dict)


def test_detail_shows_the_submission_the_chain_and_a_link_to_phare(
    alice_client, project, sandbox, settings
):
    settings.PHARE_INCIDENT_URL = "https://app.phare.example/incidents/{id}?ref={slug}"
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    alice_client.post(
        url,
        {"submission_key": "7d1c5a8e-4a43-4a0b-9d61-2f3f1f0c9b10", "impact": "major_outage",
         "title": "Detail page", "timezone": "UTC"},
    )  # fmt: skip
    finished = AuditEntry.objects.get(action="incident.create.finished")
    html = alice_client.get(finished.get_absolute_url()).content.decode()
    assert 'href="https://app.phare.example/incidents/1?ref=DEMO-1"' in html
    assert "7d1c5a8e-4a43-4a0b-9d61-2f3f1f0c9b10" in html
    assert finished.entry_hash in html
    assert "Every entry of this submission" in html
    assert "Create incident: sent" in html and "Create incident: answered" in html
    assert "&quot;title&quot;: &quot;Detail page&quot;" in html  # the exact payload sent


@pytest.mark.parametrize("window", [10, 5000])
@pytest.mark.parametrize(
    "text", ["slow", "Checkout returns 502 #4", "INC-1", "zz-no-such", "é", "100%", "s_o", "\\"]
)
def test_free_text_pages_equal_the_plain_filter(root_client, seeded, monkeypatch, window, text):
    """Whichever way the search goes (a window in time order, or the text index), the page
    is exactly the plain filter's, page after page."""
    monkeypatch.setattr(audit_search, "TEXT_SCAN_WINDOW", window)
    plain = (
        AuditEntry.objects.filter(Q(title__icontains=text) | Q(phare_incident_slug__icontains=text))
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    seen, query = [], {"q": text}
    while True:
        page = root_client.get(reverse("incidents:audit_list"), query).context["page"]
        seen += [entry.pk for entry in page.entries]
        if page.older is None:
            break
        query = {"q": text, "before": page.older.encode()}
    assert seen == list(plain)


@pytest.mark.parametrize(
    ("query", "everything"),
    [
        ({"until": "9999-12-31"}, True),  # has no next day to stop before: no bound
        ({"since": "0001-01-01", "until": "9999-12-30"}, True),
        ({"since": "9999-12-31"}, False),
        ({"until": "0001-01-01"}, False),
        ({"since": "10000-01-01", "until": "2024-02-30"}, True),  # not days: ignored
    ],
)
def test_dates_at_the_ends_of_the_calendar_filter_without_a_500(
    root_client, seeded, query, everything
):
    response = root_client.get(reverse("incidents:audit_list"), query)
    assert response.status_code == 200
    assert listed(root_client, **query) == (listed(root_client) if everything else [])
    rows = list(csv.reader(io.StringIO(export(root_client, "csv", **query))))
    assert len(rows) - 1 == (AuditEntry.objects.count() if everything else 0)
    lines = export(root_client, "jsonl", **query).splitlines()
    assert len(lines) == (AuditEntry.objects.count() if everything else 0)


def test_filters_keep_only_what_the_database_can_take():
    filters = audit_search.AuditFilters.from_query(QueryDict("since=0001-01-01&until=9999-12-31"))
    assert filters.since == date(1, 1, 1) and filters.until is None
    assert "until" not in filters.as_query()


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_an_export_the_database_refuses_fails_before_its_first_byte(
    root_client, seeded, monkeypatch, file_format
):
    entries_for = audit_search.entries_for

    def refused_by_the_database(user, filters):
        failing = RawSQL("SELECT no_such_column FROM incidents_auditentry", [])  # noqa: S611
        return entries_for(user, filters).filter(id__in=failing)

    monkeypatch.setattr(audit_search, "entries_for", refused_by_the_database)
    response = root_client.get(reverse(f"incidents:audit_export_{file_format}"))
    # Not a 200 whose download stops half-way: the error page, with its status.
    assert not response.streaming
    assert response.status_code == 503


def test_the_link_to_phare_encodes_the_slug(root_client, project, settings):
    settings.PHARE_INCIDENT_URL = "https://app.phare.example/incidents/{id}/{slug}"
    entry = audit_chain.append(
        AuditEntry(
            project=project,
            action="incident.create.finished",
            outcome="created",
            phare_incident_id=42,
            phare_incident_slug="../../admin?x=1#é",
        )
    )
    html = root_client.get(entry.get_absolute_url()).content.decode()
    assert 'href="https://app.phare.example/incidents/42/..%2F..%2Fadmin%3Fx%3D1%23%C3%A9"' in html
