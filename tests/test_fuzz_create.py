"""Arbitrary form data posted to the create endpoint: never a 500, and nothing sent to Phare
that its schema refuses."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from phare_sandbox.validation import ValidationError, validate_incident
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db

HUGE = st.sampled_from(["x" * 100_000, "é" * 5_000, "\x00" * 300, "🔥" * 2_001, " " * 300])
ANY_CHARACTER = st.characters(codec="utf-8")  # controls, unassigned, emoji; no lone surrogates
TEXT = st.one_of(st.text(max_size=300), st.text(alphabet=ANY_CHARACTER, max_size=20), HUGE)
NUMBER = st.one_of(st.integers(), st.floats(allow_nan=True)).map(str)
MOMENT = st.one_of(
    st.sampled_from(
        [
            "2026-07-01T14:30",
            "0001-01-01T00:00",
            "9999-12-31T23:59",
            "99999-01-01T00:00",
            "2026-02-30T10:00",
            "2026-13-01T00:00",
            "2026-03-29T02:30",  # a time that does not exist in Paris
            "now",
            "",
        ]
    ),
    TEXT,
)
ANY_VALUE = st.one_of(TEXT, NUMBER, MOMENT)


@st.composite
def monitor_ids(draw):
    known = st.integers(min_value=1, max_value=36).map(str)
    return draw(
        st.one_of(
            st.lists(known, max_size=5),
            st.lists(st.one_of(known, NUMBER, TEXT), max_size=8),
            st.just([str(n) for n in range(1, 1001)]),  # 1,000 ids
            st.just(["1"] * 101),
        )
    )


FORM = st.fixed_dictionaries(
    {},
    optional={
        "submission_key": st.one_of(st.uuids().map(str), TEXT),
        "impact": st.one_of(
            st.sampled_from(["operational", "degraded_performance", "major_outage", "Unknown"]),
            ANY_VALUE,
        ),
        "title": ANY_VALUE,
        "description": ANY_VALUE,
        "exclude_from_downtime": st.one_of(st.sampled_from(["on", "true", "false", ""]), TEXT),
        "incident_at": MOMENT,
        "recovery_at": MOMENT,
        "timezone": st.one_of(
            st.sampled_from(["Europe/Paris", "UTC", "Mars/Olympus", "../../etc/passwd"]), TEXT
        ),
        "monitors": monitor_ids(),
        "q": ANY_VALUE,
    },
)


# Valid but for what the optional fields draw: reaches Phare more often, near the limits.
NEAR_VALID = st.fixed_dictionaries(
    {
        "submission_key": st.uuids().map(str),
        "impact": st.sampled_from(["degraded_performance", "partial_outage", "major_outage"]),
        "title": st.text(alphabet=ANY_CHARACTER, min_size=1, max_size=260),
        "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns"]),
    },
    optional={
        "description": st.text(alphabet=ANY_CHARACTER, max_size=2100),
        "incident_at": MOMENT,
        "recovery_at": MOMENT,
        "monitors": monitor_ids(),
        "exclude_from_downtime": st.just("on"),
    },
)


@pytest.fixture
def fuzz_client(alice_client, project, sandbox, settings):
    settings.PHARE_RATE_LIMIT = 1_000_000  # hundreds of creates in seconds
    sandbox.state.rate_limit = None
    return alice_client


@given(data=st.one_of(FORM, NEAR_VALID), htmx=st.booleans())
@hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_arbitrary_form_data_never_breaks_the_console(fuzz_client, project, sandbox, data, htmx):
    sent_before = len(sandbox.state.create_requests)
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    headers = HTMX if htmx else {}
    response = fuzz_client.post(url, data, **headers)
    assert response.status_code < 500, response.content.decode()[:2000]
    known = set(sandbox.state.monitors)
    event("sent to Phare" if len(sandbox.state.create_requests) > sent_before else "not sent")
    for body in sandbox.state.create_requests[sent_before:]:
        try:
            validate_incident(body, known)
        except ValidationError as error:
            pytest.fail(f"the console sent {body!r}, which Phare refuses: {error.payload()}")


def test_the_fuzzer_reaches_phare(fuzz_client, project, sandbox):
    """The strategies above are not all rejected by the form: valid data does go out."""
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    data = {"submission_key": str(uuid.uuid4()), "impact": "major_outage", "title": "Fuzz"}
    assert Client.post(fuzz_client, url, data).status_code == 302
    assert len(sandbox.state.create_requests) == 1
