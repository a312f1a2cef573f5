"""The picker's search as written for speed (issue 14): hand-written SQL, one query with the
count for typed text, options built outside the template engine, the trigram index on
PostgreSQL. The behaviour it must keep is in test_views.py; these pin what the rewrite risks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import selectors, services
from incidents.models import Monitor
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db


def search(client, project, q: str, monitors: list[int] | None = None) -> str:
    url = reverse("incidents:monitor_search", kwargs={"slug": project.slug})
    response = client.get(url, {"q": q, "monitors": monitors or []}, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def result_names(html: str) -> list[str]:
    return [part.split("</span>")[0] for part in html.split('class="monitor-name">')[1:]]


def add_monitors(project, names: list[str], *, target: str = "tcp://10.0.0.1:5432") -> None:
    first_id = 100_000 + project.monitors.count()
    monitors = [
        Monitor(
            project=project,
            phare_id=first_id + index,
            name=name,
            target=target,
            status="online",
            synced_at=timezone.now(),
        )
        for index, name in enumerate(names)
    ]
    for monitor in monitors:
        monitor.fill_search_fields()
    Monitor.objects.bulk_create(monitors)


def test_a_typed_percent_underscore_backslash_or_quote_matches_only_itself(alice_client, project):
    add_monitors(project, ["disk 100% full", "queue_depth", r"share \files", "bob's api"])
    assert result_names(search(alice_client, project, "%")) == ["disk 100% full"]
    assert result_names(search(alice_client, project, "0%")) == ["disk 100% full"]
    assert result_names(search(alice_client, project, "_")) == ["queue_depth"]
    assert result_names(search(alice_client, project, "e_d")) == ["queue_depth"]
    assert result_names(search(alice_client, project, "\\")) == [r"share \files"]
    assert result_names(search(alice_client, project, "b's")) == ["bob&#x27;s api"]
    html = search(alice_client, project, "'; DROP TABLE incidents_monitor; --")
    assert "No monitor matches." in html
    assert project.monitors.count() == 40


def test_names_and_targets_are_escaped_in_the_options(alice_client, project):
    add_monitors(project, ['<img src=x onerror="alert(1)">'], target='https://x.test/"><b>')
    html = search(alice_client, project, "onerror")
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "https://x.test/&quot;&gt;&lt;b&gt;" in html


@pytest.mark.parametrize("q", ["c", "cache node"])
def test_over_100_matches_show_50_with_the_exact_count(alice_client, project, q):
    """One character counts in a second query; more characters count in the same one."""
    add_monitors(project, [f"cache node {index:03}" for index in range(160)])
    expected = selectors.monitor_search(project, q)[1]
    assert expected >= 160
    html = search(alice_client, project, q)
    assert html.count('name="monitors"') == 50
    assert f"{expected} monitors, showing the first 50" in html
    assert "Select all" not in html
    # Picked ones leave the results and the count, in both ways of counting.
    picked = list(
        project.monitors.filter(name__startswith="cache node").values_list("phare_id", flat=True)[
            :40
        ]
    )
    html = search(alice_client, project, q, picked)
    assert f"{expected - 40} monitors, showing the first 50" in html
    assert not any(f'value="{phare_id}"' in html for phare_id in picked)


def test_up_to_100_matches_all_show_with_select_all(alice_client, project):
    add_monitors(project, [f"cache node {index:03}" for index in range(100)])
    html = search(alice_client, project, "cache node")
    assert html.count('name="monitors"') == 100 and "Select all 100" in html
    assert result_names(html) == [f"cache node {index:03}" for index in range(100)]


def test_picked_monitors_show_as_checked_chips_and_results_unchecked(alice_client, project):
    reload_url = reverse("incidents:incident_form_reload", kwargs={"slug": project.slug})
    html = alice_client.post(reload_url, {"q": "", "monitors": ["3"]}).content.decode()
    chips = html[html.index('id="monitor-selection"') : html.index('id="monitor-search"')]
    assert 'name="monitors" value="3" checked>' in chips
    assert project.monitors.get(phare_id=3).name in chips
    results = html[html.index('id="monitor-options"') :]
    assert 'value="3"' not in results
    assert "checked" not in results.split("</ul>")[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_the_search_uses_the_trigram_index_on_postgresql(project):
    """The index (migration 0010) matches the statement's exact form (`search_name LIKE …`,
    not UPPER(…) or another cast), and the planner takes it once there are many monitors."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            pytest.skip("pg_trgm is not installed on this server")
    add_monitors(project, [f"host {index:05}" for index in range(5000)], target="https://h.test")
    with CaptureQueriesContext(connection) as captured:
        selectors.monitor_search(project, "checkout")
    (statement,) = [query["sql"] for query in captured.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_monitor")
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on monitor_search_trgm" in plan


# -- the trigram index on SQLite (migration 0011) ------------------------------------------------

TRICKY_NAMES = [
    "ÉCOLE Primaire",
    "İstanbul edge",
    "Straße gateway",
    'quote " in name',
    "tab\tand  spaces",
    "日本語 サイト",
    "UPPER api Check",
]
QUERIES = ["éco", "cole", "i̇st", "straße", "strasse", 'te " i', "\tand", "本語", "api c", "check"]


def reference_names(project, query: str) -> set[str]:
    """What the search must find: the name or URL/host holds the query, case aside."""
    query = query.strip().lower()
    return {
        monitor.name
        for monitor in project.monitors.all()
        if query in monitor.name.lower() or query in monitor.target.lower()
    }


def found_names(project, query: str) -> set[str]:
    results, total = selectors.monitor_search(project, query)
    assert total == len(results)
    return {option.name for option in results}


def test_every_match_is_found_whatever_its_letters(project):
    add_monitors(project, TRICKY_NAMES, target="https://Mixed.Case.test/Path")
    for query in [*QUERIES, "mixed.case", "/path"]:
        assert found_names(project, query) == reference_names(project, query), query


def test_renamed_and_removed_monitors_are_searched_as_they_are_now(project):
    add_monitors(project, ["zqx payments", "zqy ledger"])
    renamed = project.monitors.get(name="zqx payments")
    renamed.name, renamed.target = "zqw checkout", "https://zqw-edge.test"
    renamed.save()
    assert found_names(project, "zqx") == set()
    assert found_names(project, "zqw checkout") == {"zqw checkout"}
    assert found_names(project, "zqw-edge") == {"zqw checkout"}
    project.monitors.filter(name="zqy ledger").delete()
    assert found_names(project, "zqy") == set()
    add_monitors(project, ["zqy ledger"])
    assert found_names(project, "zqy") == {"zqy ledger"}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
def test_refreshes_keep_the_sqlite_text_index_whole(project, sandbox):
    """The triggers keep the index equal to the monitors through a refresh that renames, one
    that removes, and one that changes nothing; FTS5's integrity check compares them."""
    renamed = sandbox.state.monitors[3]
    renamed["name"] = "Renamed By Phare"
    services.monitor_sync(actor=None, project=project)
    sandbox.state.delete_monitor(5)
    services.monitor_sync(actor=None, project=project)
    services.monitor_sync(actor=None, project=project)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO incidents_monitor_text(incidents_monitor_text, rank) "
            "VALUES ('integrity-check', 1)"
        )
    assert found_names(project, "renamed by") == {"Renamed By Phare"}
    assert not project.monitors.filter(phare_id=5).exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
def test_the_search_reads_the_text_index_on_sqlite_from_three_characters(project):
    def plan(query: str) -> str:
        with CaptureQueriesContext(connection) as captured:
            selectors.monitor_search(project, query)
        (statement,) = [query["sql"] for query in captured.captured_queries]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}")
            return "\n".join(str(row) for row in cursor.fetchall())

    assert "incidents_monitor_text" in plan("che")
    assert "incidents_monitor_text" not in plan("ch")
