"""Declaring an incident on monitors that already have an ongoing one asks first."""

import re
from datetime import timedelta

import httpx
import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from incidents.models import IncidentAttempt
from tests.helpers import HTMX, SANDBOX_TOKEN, incident_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


def form(monitors: list[int], title: str = "Checkout is down", **extra) -> dict:
    return incident_form_data(title=title, monitors=[str(m) for m in monitors], **extra)


def create(client, project, data):
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    return client.post(url, data, **HTMX)


def test_a_second_declaration_on_the_same_monitor_asks_first(alice_client, project, sandbox):
    assert create(alice_client, project, form([1, 2], "Checkout is down")).status_code == 200
    data = form([2, 3], "Payments fail")
    asked = create(alice_client, project, data)
    assert asked.status_code == 409
    html = asked.content.decode()
    name = project.monitors.get(phare_id=2).name
    assert "This may already be declared." in html
    assert "“Checkout is down” (DEMO-1), declared by alice" in html
    assert f"on {name}" in html
    assert 'value="Payments fail"' in html  # nothing typed is lost
    # The button that looks like the way forward is the one that creates.
    assert 'class="button-primary create-button">Create anyway</button>' in html
    assert re.search(r'class="create-button"[^>]*>Create incident</button>', html)
    assert len(sandbox.state.create_requests) == 1

    confirmed = create(alice_client, project, data | {"confirm_duplicate": "1"})
    assert confirmed.status_code == 200
    assert "Incident DEMO-2 created" in confirmed.content.decode()


def test_an_incident_declared_in_phare_directly_is_found(alice_client, project, sandbox):
    with httpx.Client(base_url=sandbox.url) as phare:
        phare.post(
            "/uptime/incidents",
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            json={"impact": "partial_outage", "title": "From the Phare dashboard",
                  "exclude_from_downtime": False, "monitors": [5]},
        )  # fmt: skip
    alice_client.get(project.get_absolute_url())  # reads Phare's recent incidents
    asked = create(alice_client, project, form([5]))
    assert asked.status_code == 409
    assert "“From the Phare dashboard” (DEMO-1), declared by Phare" in asked.content.decode()


@pytest.mark.parametrize(
    "case", ["other_monitors", "recovered", "older_than_the_window", "no_monitors", "rejected"]
)
def test_no_question_when_nothing_ongoing_matches(alice_client, project, sandbox, case):
    first = form([1], recovery_at="2026-07-01T10:00" if case == "recovered" else "")
    if case == "rejected":
        sandbox.state.add_fault(route="create_incident", status=422)
    create(alice_client, project, first)
    if case == "older_than_the_window":
        IncidentAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    second = form([] if case == "no_monitors" else [4] if case == "other_monitors" else [1])
    response = create(alice_client, project, second)
    assert response.status_code == 200
    assert "This may already be declared." not in response.content.decode()


def test_the_window_can_be_turned_off(alice_client, project, sandbox, settings):
    settings.DUPLICATE_WINDOW_MINUTES = 0
    create(alice_client, project, form([1]))
    assert create(alice_client, project, form([1])).status_code == 200
