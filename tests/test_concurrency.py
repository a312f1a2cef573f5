"""The same submission key sent at the same moment, by threads in one process and by two app
servers sharing the database: Phare is called once."""

import threading
import uuid

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from incidents.models import IncidentAttempt
from tests.app_servers import logged_in_client, start_app_server
from tests.helpers import HTMX, incident_form_data

pytestmark = pytest.mark.django_db(transaction=True)


def form(project, key: str) -> dict:
    return incident_form_data(
        submission_key=key,
        title="Database primary is down",
        monitors=[str(project.monitors.order_by("phare_id").first().phare_id)],
    )


def run_together(calls) -> list:
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index, call):
        start.wait()
        try:
            results[index] = call()
        finally:
            connections.close_all()  # this thread's connection, or the test database stays busy

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_eight_threads_one_key_one_incident(project, alice, sandbox):
    sandbox.state.latency_ms = 300  # every thread arrives while the first one is sending
    data = form(project, str(uuid.uuid4()))
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})

    def submit():
        client = Client()
        client.force_login(alice)
        return client.post(url, data, **HTMX)

    responses = run_together([submit] * 8)
    assert len(sandbox.state.create_requests) == 1
    assert len(sandbox.state.incidents) == 1
    # Every submit waited for the first one and shows its result.
    assert [r.status_code for r in responses] == [200] * 8
    assert all("Incident DEMO-1 created" in r.content.decode() for r in responses)
    assert IncidentAttempt.objects.get().state == "created"


@pytest.fixture
def two_app_servers(sandbox):
    servers = [start_app_server(sandbox.url) for _ in range(2)]
    yield [url for _, url in servers]
    for process, _ in servers:
        process.terminate()
        process.wait(10)


def test_two_app_servers_one_key_one_incident(project, alice, sandbox, two_app_servers):
    sandbox.state.latency_ms = 500
    session = Client()
    session.force_login(alice)
    session_key = session.cookies["sessionid"].value
    page = project.get_absolute_url()
    clients = [logged_in_client(url, session_key, page) for url in two_app_servers]
    data = form(project, str(uuid.uuid4()))
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})

    def submit_to(client, token):
        return lambda: client.post(
            url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token}
        )

    responses = run_together([submit_to(client, token) for client, token in clients] * 2)
    assert len(sandbox.state.create_requests) == 1
    assert len(sandbox.state.incidents) == 1
    assert [r.status_code for r in responses] == [200] * 4
    assert all("Incident DEMO-1 created" in r.text for r in responses)
    for client, _ in clients:
        client.close()
