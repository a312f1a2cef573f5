"""Pages say what is unavailable, never a 500: Redis down, a read-only database, Phare down."""

import socket

import pytest
from django.core.cache import caches
from django.db import connection
from django.db.backends.signals import connection_created
from django.test import Client
from django.urls import reverse

from incidents.models import IncidentAttempt
from tests.helpers import HTMX, incident_form_data


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def form(project) -> dict:
    return incident_form_data(title="Search is down", monitors=["1"])


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "incidents.cache.TolerantRedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    yield
    caches["default"].close()


@pytest.mark.django_db
def test_with_redis_down_people_log_in_browse_and_create(alice, project, sandbox, redis_down):
    client = Client()
    login = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    assert login.status_code == 302  # the session went to the database
    for url in (
        reverse("incidents:home"),
        project.get_absolute_url(),
        reverse("incidents:audit_list"),
    ):
        assert client.get(url).status_code == 200
    created = client.post(
        reverse("incidents:incident_create", kwargs={"slug": project.slug}), form(project), **HTMX
    )
    assert created.status_code == 200
    assert "Incident DEMO-1 created" in created.content.decode()
    # Reading from Phare needs the shared budget, so a monitor refresh explains instead.
    refresh = client.post(
        reverse("incidents:incident_form_reload", kwargs={"slug": project.slug}),
        form(project) | {"refresh_monitors": "1"},
    )
    assert refresh.status_code == 200
    assert "rate budget (Redis or the database) is unavailable" in refresh.content.decode()


@pytest.fixture
def read_only_database(project, alice_client):
    """Every connection refuses writes from here on, as a replica or a failing-over primary."""
    statement = (
        "PRAGMA query_only = ON"
        if connection.vendor == "sqlite"
        else "SET default_transaction_read_only = on"
    )
    off = (
        "PRAGMA query_only = OFF"
        if connection.vendor == "sqlite"
        else "SET default_transaction_read_only = off"
    )

    def make_read_only(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(statement)

    connection.ensure_connection()
    make_read_only(None, connection)
    connection_created.connect(make_read_only)
    yield
    connection_created.disconnect(make_read_only)
    with connection.cursor() as cursor:
        cursor.execute(off)


@pytest.mark.django_db(transaction=True)
def test_with_a_read_only_database_pages_read_and_creates_explain(
    project, alice_client, sandbox, read_only_database
):
    for url in (
        reverse("incidents:home"),
        project.get_absolute_url(),
        reverse("incidents:audit_list"),
    ):
        assert alice_client.get(url).status_code == 200
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    htmx = alice_client.post(url, form(project), **HTMX)
    assert htmx.status_code == 503
    assert htmx["HX-Retarget"] == "#page-banner"
    assert "database is not accepting changes right now" in htmx.content.decode()
    plain = alice_client.post(url, form(project))
    assert plain.status_code == 503
    assert "The console is temporarily unavailable" in plain.content.decode()
    assert sandbox.state.create_requests == []
    assert IncidentAttempt.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_login_with_a_read_only_database_explains(alice, read_only_database):
    response = Client().post(
        reverse("login"), {"username": "alice", "password": "alice-password-1"}
    )
    assert response.status_code == 503
    assert "database is not accepting changes" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_the_database_not_phare(client, settings, read_only_database):
    settings.PHARE_API_URL = f"http://127.0.0.1:{closed_port()}"
    assert client.get("/healthz").status_code == 200  # reads work; Phare is not its concern
