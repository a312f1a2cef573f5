"""Work nobody waits for (services/background.py): `when_answered` runs a short job in the
request's own thread once its response has been sent, and a create stores the console's copy
of the new incident that way, after its answer."""

import logging

import pytest
from django.core.signals import request_finished, request_started
from django.urls import reverse

from incidents.models import PhareIncident
from incidents.services import background, incident_copy
from incidents.views import incidents as incident_views
from tests.helpers import FROM_THE_FORM, incident_form_data

# Django's own request_finished receiver looks at the database connection.
pytestmark = pytest.mark.django_db


@pytest.fixture
def in_background(settings):
    settings.MONITOR_SYNC_IN_BACKGROUND = True


def test_outside_a_request_the_job_runs_at_once(in_background):
    done = []
    background.when_answered("job", done.append, 1)
    assert done == [1]


def test_in_a_request_the_job_waits_for_the_response_to_be_sent(in_background):
    done = []
    request_started.send(sender=None)
    background.when_answered("job", done.append, 1)
    background.when_answered("job", lambda **kwargs: done.append(kwargs), x=2)
    assert done == []
    request_finished.send(sender=None)
    assert done == [1, {"x": 2}]
    request_finished.send(sender=None)  # once only
    assert done == [1, {"x": 2}]


def test_a_failing_job_is_logged_and_the_next_still_runs(in_background, caplog):
    done = []

    def fail():
        raise RuntimeError("broken")

    request_started.send(sender=None)
    background.when_answered("copy-7", fail)
    background.when_answered("next", done.append, "ran")
    with caplog.at_level(logging.ERROR, logger="incidents.services.background"):
        request_finished.send(sender=None)
    assert done == ["ran"]
    assert "job copy-7 after the response failed" in caplog.text


def test_without_background_work_the_job_runs_inline(settings):
    settings.MONITOR_SYNC_IN_BACKGROUND = False
    done = []
    request_started.send(sender=None)
    try:
        background.when_answered("job", done.append, 1)
        assert done == [1]
    finally:
        request_finished.send(sender=None)


def test_a_create_answers_before_it_stores_its_copy(
    in_background, alice_client, project, sandbox, monkeypatch
):
    steps = []
    respond, store = incident_views._created_response, incident_copy.store_incident

    def responding(*args, **kwargs):
        steps.append("response")
        return respond(*args, **kwargs)

    def storing(*args, **kwargs):
        steps.append("copy")
        return store(*args, **kwargs)

    monkeypatch.setattr(incident_views, "_created_response", responding)
    monkeypatch.setattr(incident_copy, "store_incident", storing)
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})

    response = alice_client.post(url, incident_form_data(), **FROM_THE_FORM)

    assert response.status_code == 200 and " created</h2>" in response.content.decode()
    assert steps == ["response", "copy"]
    [copy] = PhareIncident.objects.all()
    assert (copy.title, copy.changed_outside_at) == ("Checkout down", None)
