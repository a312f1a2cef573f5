"""incident_prefill: a link's query (and a template) as the create form's initial values, and
a warning for each value that could not be used."""

import zoneinfo
from datetime import datetime

import pytest
from django.http import QueryDict
from django.utils import timezone

from incidents.incident_prefill import prefill_from, shown
from incidents.models import IncidentTemplate, Monitor

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def prefill(project, query: str, **kwargs):
    return prefill_from(project, QueryDict(query), **kwargs)


@pytest.fixture
def template(project):
    return IncidentTemplate.objects.create(
        project=project,
        name="Checkout down",
        impact="major_outage",
        title="Checkout is down",
        description="Payments fail at the last step.",
        monitors=[2, 4],
        exclude_from_downtime=True,
    )


def test_every_field_from_the_query(project):
    result = prefill(
        project,
        "impact=partial_outage&title=Search+slow&description=Line+1%0ALine+2"
        "&monitors=7,13&exclude_from_downtime=1&incident_at=2026-11-28T14:30",
    )
    assert result.warnings == []
    assert result.initial == {
        "impact": "partial_outage",
        "title": "Search slow",
        "description": "Line 1\nLine 2",
        "monitors": [7, 13],
        "exclude_from_downtime": True,
        "incident_at": datetime(2026, 11, 28, 14, 30),
    }


def test_a_template_fills_every_field(project, template):
    result = prefill(project, "template=Checkout+down")
    assert result.warnings == []
    assert result.template == template
    assert result.initial == {
        "incident_template": "Checkout down",
        "impact": "major_outage",
        "title": "Checkout is down",
        "description": "Payments fail at the last step.",
        "monitors": [2, 4],
        "exclude_from_downtime": True,
    }


def test_query_values_override_the_template(project, template):
    result = prefill(
        project, "template=Checkout+down&title=Checkout+slow&monitors=5&exclude_from_downtime=0"
    )
    assert result.warnings == []
    assert result.initial["incident_template"] == "Checkout down"
    assert result.initial["title"] == "Checkout slow"
    assert result.initial["monitors"] == [5]
    assert result.initial["exclude_from_downtime"] is False
    assert result.initial["impact"] == "major_outage"  # not overridden


def test_template_name_in_another_case_when_only_one_matches(project, template):
    assert prefill(project, "template=checkout+DOWN").template == template


def test_unknown_template_is_a_warning(project, template):
    result = prefill(project, "template=Nope&title=Kept")
    assert result.template is None
    assert result.initial == {"title": "Kept"}
    assert result.warnings == ["template “Nope”: this project has no such template."]


def test_template_monitors_gone_from_the_copy_are_left_out_with_a_warning(project, template):
    Monitor.objects.filter(project=project, phare_id=4).delete()
    result = prefill(project, "template=Checkout+down")
    assert result.initial["monitors"] == [2]
    assert result.warnings == [
        "monitors #4 of template “Checkout down”: no longer in the project's monitor list."
    ]


@pytest.mark.parametrize(
    ("value", "impact"),
    [
        ("major_outage", "major_outage"),
        ("Major outage", "major_outage"),
        ("major-outage", "major_outage"),
        ("DEGRADED_PERFORMANCE", "degraded_performance"),
    ],
)
def test_impact_by_value_or_label(project, value, impact):
    query = QueryDict(mutable=True)
    query["impact"] = value
    assert prefill_from(project, query).initial == {"impact": impact}


def test_monitors_by_id_or_exact_name(project):
    result = prefill(project, "monitors=www+homepage,2,+Status+Page+,2")
    assert result.warnings == []
    assert result.initial["monitors"] == [1, 2, 10]  # repeats once, in the order given


def test_monitors_repeated_parameter(project):
    assert prefill(project, "monitors=1&monitors=3").initial["monitors"] == [1, 3]


def test_monitor_name_exact_case_wins_over_other_cases(project):
    Monitor.objects.create(
        project=project, phare_id=500, name="WWW HOMEPAGE", synced_at=timezone.now()
    )
    assert prefill(project, "monitors=WWW+HOMEPAGE").initial["monitors"] == [500]
    # Neither is an exact match: two candidates, so the link must say which.
    result = prefill(project, "monitors=Www+Homepage")
    assert "monitors" not in result.initial
    assert result.warnings == [
        "monitors “Www Homepage”: several monitors have this name; give their ids."
    ]


def test_unknown_monitors_are_named_and_the_others_used(project):
    result = prefill(project, "monitors=1,nope,999999")
    assert result.initial["monitors"] == [1]
    assert result.warnings == [
        "monitors “nope”, “999999”: not in the project's monitor list (by id or exact name)."
    ]


def test_more_than_100_monitors_are_not_used(project, template):
    ids = ",".join(str(n) for n in range(1, 102))
    result = prefill(project, f"template=Checkout+down&monitors={ids}")
    assert result.initial["monitors"] == [2, 4]  # the template's stay
    assert result.warnings == ["monitors: 101 given, Phare accepts at most 100 per incident."]


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ("impact=apocalypse", "impact “apocalypse”: not an impact"),
        ("title=" + "x" * 251, "title: longer than 250 characters (251)"),
        ("description=" + "x" * 2001, "description: longer than 2000 characters (2001)."),
        ("incident_at=yesterday", "incident_at “yesterday”: not a date and time"),
        ("incident_at=0001-01-01T00:00", "incident_at “0001-01-01T00:00”: not a date"),
        ("exclude_from_downtime=maybe", "exclude_from_downtime “maybe”: use 1 (yes) or 0"),
        ("title=a%00b", "title: contains a NUL character."),
        ("titel=typo", "“titel”: the link cannot fill this field."),
    ],
)
def test_invalid_values_are_warnings_and_not_used(project, query, warning):
    result = prefill(project, query)
    assert result.initial == {}
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(warning)


def test_an_exact_moment_is_shown_in_the_viewers_zone_which_the_form_keeps(project):
    result = prefill(project, "incident_at=2026-07-01T12:00:00Z", zone=PARIS)
    assert result.initial["incident_at"] == datetime(2026, 7, 1, 14, 0)
    assert result.initial["timezone"] == "Europe/Paris"
    assert result.zone_name == "Europe/Paris"


def test_empty_values_change_nothing(project, template):
    result = prefill(project, "template=Checkout+down&title=&monitors=")
    assert result.warnings == []
    assert result.initial["title"] == "Checkout is down"
    assert result.initial["monitors"] == [2, 4]


def test_shown_values_are_cut_and_lose_control_characters():
    assert shown("a\x1bb\nc") == "“a�b�c”"
    assert shown("y" * 200) == "“" + "y" * 59 + "…”"
