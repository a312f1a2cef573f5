"""The incident form: the contract's bounds, time zones, and Phare's errors put back."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


def test_minimal_form_gives_the_minimal_payload_with_now_as_the_start(shop):
    # The start was left out until issue 12: one documentation page marks it required, so an
    # empty start is now sent as the console's "now".
    form = bind(shop)
    assert form.is_valid(), form.errors
    before = datetime.now(UTC).replace(microsecond=0)
    body = form.to_payload().to_json()
    sent_start = datetime.fromisoformat(body.pop("incident_at"))
    assert before <= sent_start <= datetime.now(UTC)
    assert body == {
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


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "-1",
        "0",
        "1.5",
        "99999999999999999999999",
        "9223372036854775808",  # 2**63
        "١٢",  # Arabic-Indic digits: int() reads them as 12
        "1_0",  # int() reads it as 10
        "+5",
        "²",
        "",
    ],
)
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


# -- times ahead of now (PHARE_MAX_FUTURE_MINUTES) ----------------------------------------


def wall_clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("name", ["incident_at", "recovery_at"])
def test_a_time_more_than_the_limit_ahead_is_refused_with_a_clear_message(shop, name):
    form = bind(shop, **{name: wall_clock(datetime.now(UTC) + timedelta(minutes=11))})
    assert not form.is_valid()
    assert form.errors[name] == [
        "This is in the future: Phare accepts times at most 9 minutes ahead of now. Check the "
        "date and the time."
    ]


def test_a_time_within_the_limit_is_accepted(shop):
    soon = wall_clock(datetime.now(UTC) + timedelta(minutes=7))
    form = bind(shop, incident_at=soon, recovery_at=soon)
    assert form.is_valid(), form.errors


def test_the_limit_is_a_setting_and_applies_in_the_users_time_zone(shop, settings):
    # 150 minutes ahead, typed on a Paris wall clock (read as UTC it would be 210 ahead).
    ahead = datetime.now(UTC) + timedelta(minutes=150)
    typed = ahead.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M")
    settings.PHARE_MAX_FUTURE_MINUTES = 120
    assert not bind(shop, timezone="Europe/Paris", incident_at=typed).is_valid()
    settings.PHARE_MAX_FUTURE_MINUTES = 180
    assert bind(shop, timezone="Europe/Paris", incident_at=typed).is_valid()


def test_an_empty_start_with_a_past_recovery_asks_for_the_start(shop):
    form = bind(shop, recovery_at="2026-07-01T15:00")
    assert not form.is_valid()
    assert form.errors["incident_at"] == [
        "Give the start time too: an empty start means now, and the recovery time is before now."
    ]


def edit_form(project, started: datetime, **typed):
    from incidents.incident_forms import IncidentEditForm, encode_base

    base = {
        "impact": "major_outage",
        "title": "Checkout down",
        "description": "",
        "exclude_from_downtime": False,
        "incident_at": started,
        "recovery_at": None,
        "monitors": [],
    }
    data = QueryDict(mutable=True)
    data.update(
        {
            "submission_key": "0b8a0c39-8b1a-4c55-9a43-4b3c0f6f9c11",
            "impact": "major_outage",
            "title": "Checkout down",
            "timezone": "UTC",
            "incident_at": wall_clock(started),
            "base": encode_base(base),
        }
    )
    for name, value in typed.items():
        data[name] = value
    return IncidentEditForm(data, project=project)


def test_the_edit_form_refuses_a_time_moved_too_far_ahead(shop):
    form = edit_form(
        shop,
        datetime(2026, 3, 1, 10, 0, 42, tzinfo=UTC),
        incident_at=wall_clock(datetime.now(UTC) + timedelta(days=1)),
    )
    assert not form.is_valid()
    assert "Phare accepts times at most 9 minutes ahead" in form.errors["incident_at"][0]
    recovery = edit_form(
        shop,
        datetime(2026, 3, 1, 10, 0, 42, tzinfo=UTC),
        recovery_at=wall_clock(datetime.now(UTC) + timedelta(hours=1)),
    )
    assert not recovery.is_valid()
    assert "at most 9 minutes ahead" in recovery.errors["recovery_at"][0]


def test_the_edit_form_keeps_a_time_already_in_phare_even_ahead_of_the_limit(shop):
    # Set in Phare itself; the person changes only the title, so the time is not sent.
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, seconds=17)
    form = edit_form(shop, ahead, title="Checkout down in eu-west")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["incident_at"] == ahead


def test_the_edit_form_may_empty_the_start(shop):
    form = edit_form(
        shop,
        datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        incident_at="",
        recovery_at="2026-03-01T11:00",
    )
    assert form.is_valid(), form.errors  # sent as null: not "now", so no question


# -- the impact as radios, and the error summary's links ---------------------------------------


def test_impact_is_a_group_of_radios_with_phares_meanings_and_none_chosen(shop):
    html = str(IncidentForm(project=shop)["impact"].as_field_group())
    assert "<fieldset" in html and "<legend>Impact</legend>" in html
    assert html.count('type="radio"') == 6
    assert "checked" not in html  # nobody declares "operational" by accident
    for value, label, meaning in [
        ("major_outage", "Major outage", "people cannot use the service"),
        ("partial_outage", "Partial outage", "some features are down"),
        ("degraded_performance", "Degraded performance", "slower or working less well"),
        ("unknown", "Unknown", "still investigating"),
        ("maintenance", "Maintenance", "planned work"),
        ("operational", "Operational", "a false alarm"),
    ]:
        assert f'value="{value}"' in html
        assert f'<span class="choice-name">{label}</span>' in html
        assert meaning in html
    # Worst first: the order people scan for an outage.
    assert html.index("major_outage") < html.index("partial_outage") < html.index("operational")


def test_impact_left_unchosen_keeps_its_message_and_marks_the_radios(shop):
    form = bind(shop, impact=[])
    assert not form.is_valid()
    assert form.errors["impact"] == ["Choose the impact."]
    html = str(form["impact"].as_field_group())
    assert html.count('aria-invalid="true"') == 6
    assert 'aria-describedby="id_impact_error"' in html  # on the fieldset
    assert "Choose the impact." in html


def test_the_edit_form_shows_the_incidents_impact_chosen(shop):
    from incidents.incident_forms import IncidentEditForm

    form = IncidentEditForm(initial={"impact": "partial_outage"}, project=shop)
    html = str(form["impact"].as_field_group())
    assert html.count("checked") == 1
    assert 'value="partial_outage" required id="id_impact_1" checked' in html


def test_fields_to_fix_link_each_field_in_the_order_shown(shop):
    form = bind(shop, impact=[], title="", incident_at="yesterday", monitors=["999"])
    assert not form.is_valid()
    assert [(item["anchor"], item["label"]) for item in form.fields_to_fix()] == [
        ("id_impact_0", "Impact"),
        ("id_title", "Title"),
        ("monitor-search", "Monitors"),
        ("id_incident_at", "Incident at"),
    ]
    assert form.fields_to_fix()[1]["message"] == "Give the incident a title."
    assert IncidentForm(project=shop).fields_to_fix() == []
