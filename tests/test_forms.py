"""The incident form: the contract's bounds, time zones, and Phare's errors put back."""

from datetime import UTC, datetime

import pytest
from django.http import QueryDict

from incidents.forms import IncidentForm
from incidents.models import Monitor, PhareProject

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    project = PhareProject.objects.create(name="Shop", slug="shop")
    now = datetime.now(UTC)
    Monitor.objects.bulk_create(
        Monitor(project=project, phare_id=index, name=f"monitor {index}", synced_at=now)
        for index in range(1, 121)
    )
    return project


def bind(project, **fields) -> IncidentForm:
    data = QueryDict(mutable=True)
    data.update(
        {
            "submission_key": "0b8a0c39-8b1a-4c55-9a43-4b3c0f6f9c11",
            "impact": "major_outage",
            "title": "Checkout down",
            "timezone": "UTC",
        }
    )
    for name, value in fields.items():
        data.setlist(name, value if isinstance(value, list) else [value])
    return IncidentForm(data, project=project)


def test_minimal_form_gives_the_minimal_payload(shop):
    form = bind(shop)
    assert form.is_valid(), form.errors
    assert form.to_payload().to_json() == {
        "impact": "major_outage",
        "title": "Checkout down",
        "exclude_from_downtime": False,
    }


@pytest.mark.parametrize(("length", "valid"), [(1, True), (250, True), (251, False)])
def test_title_length(shop, length, valid):
    assert bind(shop, title="x" * length).is_valid() is valid


def test_empty_title_is_rejected_with_a_clear_message(shop):
    form = bind(shop, title="   ")
    assert not form.is_valid()
    assert form.errors["title"] == ["Give the incident a title."]


@pytest.mark.parametrize(("length", "valid"), [(2000, True), (2001, False)])
def test_description_length(shop, length, valid):
    assert bind(shop, description="d" * length).is_valid() is valid


def test_empty_description_is_omitted(shop):
    form = bind(shop, description="")
    assert form.is_valid()
    assert "description" not in form.to_payload().to_json()


@pytest.mark.parametrize(
    "impact",
    [
        "unknown",
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "maintenance",
    ],
)
def test_every_documented_impact_is_accepted(shop, impact):
    assert bind(shop, impact=impact).is_valid()


@pytest.mark.parametrize("impact", ["", "catastrophic", "majorOutage"])
def test_unknown_impact_is_rejected(shop, impact):
    form = bind(shop, impact=impact)
    assert not form.is_valid()
    assert "impact" in form.errors


def test_exclude_from_downtime_is_always_a_boolean(shop):
    form = bind(shop, exclude_from_downtime="on")
    assert form.is_valid()
    assert form.to_payload().to_json()["exclude_from_downtime"] is True


@pytest.mark.parametrize(("count", "valid"), [(100, True), (101, False)])
def test_monitor_count_limit(shop, count, valid):
    form = bind(shop, monitors=[str(index) for index in range(1, count + 1)])
    assert form.is_valid() is valid
    if not valid:
        assert form.errors["monitors"] == ["Pick at most 100 monitors (Phare's limit)."]


def test_monitors_are_sent_as_integers_in_the_order_picked_without_repeats(shop):
    form = bind(shop, monitors=["7", "3", "7"])
    assert form.is_valid()
    assert form.to_payload().to_json()["monitors"] == [7, 3]


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5", "99999999999999999999999"])
def test_malformed_monitor_ids_are_rejected(shop, value):
    form = bind(shop, monitors=[value])
    assert not form.is_valid()
    assert "monitors" in form.errors


def test_monitor_not_in_the_projects_list_is_rejected(shop):
    form = bind(shop, monitors=["1", "999"])
    assert not form.is_valid()
    assert "999" in form.errors["monitors"][0]


def test_wall_clock_times_are_read_in_the_users_time_zone_and_sent_in_utc(shop):
    form = bind(
        shop,
        timezone="Europe/Paris",
        incident_at="2026-07-01T14:30",
        recovery_at="2026-07-01T15:00",
    )
    assert form.is_valid(), form.errors
    body = form.to_payload().to_json()
    assert body["incident_at"] == "2026-07-01T12:30:00Z"  # Paris is UTC+2 in summer
    assert body["recovery_at"] == "2026-07-01T13:00:00Z"


def test_recovery_before_incident_is_rejected(shop):
    form = bind(shop, incident_at="2026-07-01T14:30", recovery_at="2026-07-01T14:29")
    assert not form.is_valid()
    assert form.errors["recovery_at"] == ["Recovery cannot be before the incident started."]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T10:00", "0001-01-01T00:00"])
def test_unreadable_or_out_of_range_times_are_rejected(shop, value):
    form = bind(shop, incident_at=value)
    assert not form.is_valid()
    assert "incident_at" in form.errors


def test_unknown_time_zone_is_a_form_error(shop):
    form = bind(shop, timezone="Mars/Olympus")
    assert not form.is_valid()
    assert "timezone" in form.errors


def test_phare_errors_go_under_their_fields_and_name_the_monitor(shop):
    form = bind(shop, monitors=["4", "5"])
    assert form.is_valid()
    form.add_phare_errors(
        {
            "title": ["The title has already been taken."],
            "monitors.1": ["The selected monitors.1 is invalid."],
            "colour": ["The colour field is prohibited."],
        }
    )
    assert form.errors["title"] == ["The title has already been taken."]
    assert form.errors["monitors"] == [
        "Phare does not accept monitor “monitor 5”: The selected monitor is invalid."
    ]
    assert form.non_field_errors() == ["colour: The colour field is prohibited."]


def test_fresh_form_has_a_unique_submission_key(shop):
    first, second = IncidentForm(project=shop), IncidentForm(project=shop)
    assert first.initial["submission_key"] != second.initial["submission_key"]
