"""Incident templates: managed by a project's admins (use cases, console pages, Django admin),
each write audited; a template's button and prefill links fill the create form and never send
it; a create from a template records the template's name in the audit chain."""

import csv
import io
import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Q
from django.urls import reverse

from incidents import audit_chain, services
from incidents.models import AuditEntry, IncidentAttempt, IncidentTemplate
from tests.helpers import (
    FROM_THE_FORM,
    HTMX,
    INCIDENT_TEMPLATE,
    assert_strict_csp,
    incident_form_data,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(project, project_admin):
    return services.incident_template_create(
        actor=project_admin, project=project, values=INCIDENT_TEMPLATE
    )


def chosen_impact(html: str) -> str:
    """The impact the form shows as chosen (a checked radio, or a selected option)."""
    found = re.findall(
        r'<input[^>]*name="impact" value="(\w+)"[^>]*\schecked|<option value="(\w+)" selected',
        html,
    )
    assert len(found) == 1, found
    return found[0][0] or found[0][1]


def create_url(project) -> str:
    return reverse("incidents:incident_create", kwargs={"slug": project.slug})


def list_url(project) -> str:
    return reverse("incidents:incident_template_list", kwargs={"slug": project.slug})


def template_entries(action: str = "") -> list[AuditEntry]:
    entries = AuditEntry.objects.filter(action__startswith="incident_template.")
    if action:
        entries = entries.filter(action=action)
    return list(entries.order_by("id"))


# -- use cases --------------------------------------------------------------------------------


def test_admin_creates_a_template_audited(project, project_admin):
    template = services.incident_template_create(
        actor=project_admin, project=project, values=INCIDENT_TEMPLATE
    )
    assert template.values() == INCIDENT_TEMPLATE
    [entry] = template_entries()
    assert (entry.action, entry.outcome, entry.actor_username) == (
        "incident_template.saved",
        "recorded",
        "dave",
    )
    assert entry.payload == {"created": True, "before": None, "after": INCIDENT_TEMPLATE}
    assert audit_chain.check().problem is None


def test_superuser_manages_templates_without_a_membership(project, superuser):
    services.incident_template_create(actor=superuser, project=project, values=INCIDENT_TEMPLATE)
    assert project.incident_templates.count() == 1


@pytest.mark.parametrize("persona", ["responder", "viewer", "outsider"])
def test_only_admins_manage_templates(request, project, template, persona):
    actor = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.incident_template_create(
            actor=actor, project=project, values=INCIDENT_TEMPLATE | {"name": "Other"}
        )
    with pytest.raises(PermissionDenied):
        services.incident_template_change(actor=actor, template=template, changes={"title": "X"})
    with pytest.raises(PermissionDenied):
        services.incident_template_delete(actor=actor, template=template)
    assert IncidentTemplate.objects.get().title == "Checkout is down"
    assert len(template_entries()) == 1  # only the creation


def test_change_records_only_what_changed(project, project_admin, template):
    changed = services.incident_template_change(
        actor=project_admin,
        template=template,
        changes=INCIDENT_TEMPLATE | {"title": "Checkout is slow"},
    )
    assert changed == {"title": ("Checkout is down", "Checkout is slow")}
    entry = template_entries()[-1]
    assert entry.payload == {
        "template": "Checkout down",
        "before": {"title": "Checkout is down"},
        "after": {"title": "Checkout is slow"},
    }
    # The same values again: nothing changed, nothing recorded.
    assert (
        services.incident_template_change(
            actor=project_admin, template=template, changes={"title": "Checkout is slow"}
        )
        == {}
    )
    assert len(template_entries()) == 2


def test_delete_records_what_the_template_held(project, project_admin, template):
    services.incident_template_delete(actor=project_admin, template=template)
    assert not IncidentTemplate.objects.exists()
    entry = template_entries("incident_template.deleted")[0]
    assert entry.payload == {"template": "Checkout down", "before": INCIDENT_TEMPLATE}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "checkout DOWN"}, "name"),  # taken, in another case
        ({"monitors": [999_999]}, "monitors"),  # not a monitor of the project
        ({"monitors": list(range(1, 102))}, "monitors"),
        ({"impact": "apocalypse"}, "impact"),
        ({"title": "x" * 251}, "title"),
        ({"name": "   "}, "name"),
    ],
)
def test_template_values_are_checked(project, project_admin, template, changes, field):
    with pytest.raises(ValidationError) as refused:
        services.incident_template_create(
            actor=project_admin,
            project=project,
            values=INCIDENT_TEMPLATE | {"name": "New"} | changes,
        )
    assert field in refused.value.message_dict
    assert project.incident_templates.count() == 1


# -- console pages ----------------------------------------------------------------------------


def test_project_page_links_admins_to_templates(client_for, project):
    link = f'href="{list_url(project)}"'
    assert link in client_for("project_admin").get(project.get_absolute_url()).content.decode()
    assert link not in client_for("responder").get(project.get_absolute_url()).content.decode()


def test_list_shows_templates_with_their_links(client_for, project, template):
    response = client_for("project_admin").get(list_url(project))
    html = response.content.decode()
    assert response.status_code == 200
    assert_strict_csp(response)
    assert "Checkout down" in html and "Major outage" in html
    assert f"{create_url(project)}?template=Checkout+down" in html


def test_admin_creates_a_template_in_the_console(client_for, project):
    url = reverse("incidents:incident_template_create", kwargs={"slug": project.slug})
    page = client_for("project_admin").get(url)
    assert page.status_code == 200 and 'name="name"' in page.content.decode()
    response = client_for("project_admin").post(
        url,
        {
            "save": "1",
            "name": " DB   down ",
            "impact": "partial_outage",
            "title": "Database degraded",
            "description": "",
            "monitors": ["3", "12"],
        },
    )
    assert response.status_code == 302 and response["Location"] == list_url(project)
    template = IncidentTemplate.objects.get()
    assert template.values() == {
        "name": "DB down",
        "impact": "partial_outage",
        "title": "Database degraded",
        "description": "",
        "monitors": [3, 12],
        "exclude_from_downtime": False,
    }
    assert template_entries()[0].actor_username == "dave"


def test_template_form_errors_keep_what_was_typed(client_for, project, template):
    url = reverse("incidents:incident_template_create", kwargs={"slug": project.slug})
    response = client_for("project_admin").post(
        url,
        {"save": "1", "name": "CHECKOUT down", "impact": "", "title": "Still typed"},
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "This project already has a template with this name." in html
    assert "Choose the impact." in html
    assert 'value="Still typed"' in html
    assert project.incident_templates.count() == 1


def test_template_form_monitor_search_without_javascript(client_for, project, template):
    url = reverse(
        "incidents:incident_template_change",
        kwargs={"slug": project.slug, "template_id": template.pk},
    )
    response = client_for("project_admin").post(
        url, {"name": "Renamed, not saved", "impact": "major_outage", "q": "postgres"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "postgres primary tcp" in html
    assert 'value="Renamed, not saved"' in html
    template.refresh_from_db()
    assert template.name == "Checkout down"  # nothing saved without "save"


def test_admin_edits_a_template(client_for, project, template):
    url = reverse(
        "incidents:incident_template_change",
        kwargs={"slug": project.slug, "template_id": template.pk},
    )
    page = client_for("project_admin").get(url).content.decode()
    assert 'value="Checkout is down"' in page and "api-us-east checkout" in page  # its chips
    data = {"save": "1", "name": "Checkout down", "impact": "major_outage"}
    data |= {"title": "Checkout is down", "description": "New text", "monitors": ["2"]}
    assert client_for("project_admin").post(url, data).status_code == 302
    template.refresh_from_db()
    assert (template.description, template.monitors, template.exclude_from_downtime) == (
        "New text",
        [2],
        False,
    )


def test_delete_asks_then_deletes(client_for, project, template):
    url = reverse(
        "incidents:incident_template_delete",
        kwargs={"slug": project.slug, "template_id": template.pk},
    )
    page = client_for("project_admin").get(url)
    assert page.status_code == 200 and "Delete template “Checkout down”" in page.content.decode()
    assert IncidentTemplate.objects.exists()
    assert client_for("project_admin").post(url).status_code == 302
    assert not IncidentTemplate.objects.exists()
    assert template_entries("incident_template.deleted")


def test_template_of_another_project_is_not_found(client_for, project, template, superuser):
    other, _ = services.project_provision(name="Blog", token="pha_test_sandbox_token_1234")
    url = reverse(
        "incidents:incident_template_change",
        kwargs={"slug": other.slug, "template_id": template.pk},
    )
    assert client_for("superuser").get(url).status_code == 404


# -- the buttons on the create form -----------------------------------------------------------


def test_project_page_has_one_button_per_template_before_the_form(client_for, project, template):
    services.incident_template_create(
        actor=template.project.memberships.get(role="admin").user,
        project=project,
        values=INCIDENT_TEMPLATE | {"name": "Search slow & <b>", "monitors": []},
    )
    html = client_for("responder").get(project.get_absolute_url()).content.decode()
    first = f'href="{create_url(project)}?template=Checkout%20down"'
    assert first in html
    assert f'hx-get="{create_url(project)}?template=Checkout%20down"' in html
    assert (
        "?template=Search%20slow%20%26%20%3Cb%3E" in html and "Search slow &amp; &lt;b&gt;" in html
    )
    # Reached by Tab before any field, and focused when the page opens.
    assert html.index(first) < html.index('name="title"')
    button = html[html.index(first) : html.index("</a>", html.index(first))]
    assert "autofocus" in button
    assert html.count("autofocus") == 1


def test_template_button_with_htmx_fills_the_panel_and_focuses_create(
    client_for, project, template
):
    response = client_for("responder").get(
        create_url(project), {"template": "Checkout down"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="incident-panel"' in html
    assert 'name="incident_template" value="Checkout down"' in html
    assert 'value="Checkout is down"' in html
    assert "Payments fail at the last step." in html
    assert 'name="monitors" value="2" checked' in html
    assert 'name="monitors" value="4" checked' in html
    assert re.search(r'<input[^>]*name="exclude_from_downtime"[^>]*\schecked>', html)
    assert chosen_impact(html) == "major_outage"
    create_button = html[html.rindex("<button", 0, html.index(">Create incident<")) :]
    assert "autofocus" in create_button.split(">")[0]


def test_prefill_link_opens_the_page_filled_and_sends_nothing(client_for, project, sandbox):
    response = client_for("responder").get(
        create_url(project),
        {
            "impact": "Partial outage",
            "title": "Search slow",
            "description": "From the alert",
            "monitors": "www homepage,13",
            "exclude_from_downtime": "1",
            "incident_at": "2026-11-28T14:30",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert_strict_csp(response)
    assert "<html" in html and project.name in html
    assert 'value="Search slow"' in html and "From the alert" in html
    assert 'value="2026-11-28T14:30"' in html
    assert 'name="monitors" value="1" checked' in html
    assert 'name="monitors" value="13" checked' in html
    assert chosen_impact(html) == "partial_outage"
    assert "These values from the link were not used" not in html
    assert sandbox.state.create_requests == []
    assert not IncidentAttempt.objects.exists()


def test_prefill_link_without_a_trailing_slash_keeps_its_query(client_for, project):
    response = client_for("responder").get(create_url(project).rstrip("/") + "?title=Down&x=1")
    assert response.status_code in (301, 302)
    assert response["Location"].endswith(create_url(project) + "?title=Down&x=1")


def test_prefill_link_without_values_is_the_project_page(client_for, project):
    response = client_for("responder").get(create_url(project))
    assert response.status_code == 302 and response["Location"] == project.get_absolute_url()


HOSTILE = '<script>alert("x")</script>'


def test_hostile_and_invalid_values_are_warnings_never_reflected_raw(
    client_for, project, template, sandbox
):
    response = client_for("responder").get(
        create_url(project),
        {
            "template": 'Checkout down"><img src=x onerror=alert(1)>',
            "impact": HOSTILE,
            "title": "t" * 300,
            "description": "a\x00b",
            "monitors": f"1,{HOSTILE},999999",
            "incident_at": "javascript:alert(1)",
            "exclude_from_downtime": "<b>",
            HOSTILE: "1",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert_strict_csp(response)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "These values from the link were not used" in html
    warnings = response.context["prefill_warnings"]
    assert len(warnings) == 8  # one per value: the NUL, the unknown name, each bad value
    assert (
        'template “Checkout down"><img src=x onerror=alert(1)>”: this project has no such '
        "template." in warnings
    )
    assert 'name="monitors" value="1" checked' in html  # the valid part is used
    # The warnings have the focus (not Create): someone should read them first.
    assert 'id="prefill-warnings" tabindex="-1" autofocus' in html
    assert html.count("autofocus") == 1
    assert sandbox.state.create_requests == []


def test_viewer_gets_no_form_from_a_prefill_link(client_for, project, template, sandbox):
    response = client_for("viewer").get(
        create_url(project), {"template": "Checkout down", "title": "Viewer title"}
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert "ask a project admin to make you a responder" in html
    assert "Viewer title" not in html and "Checkout is down" not in html
    assert "Create incident</button>" not in html
    htmx = client_for("viewer").get(create_url(project), {"title": "x"}, **HTMX)
    assert htmx.status_code == 403
    assert sandbox.state.create_requests == []


@pytest.mark.parametrize(("persona", "status"), [("outsider", 404), ("anonymous", 302)])
def test_prefill_link_for_people_outside_the_project(client_for, project, persona, status):
    response = client_for(persona).get(create_url(project), {"title": "x"})
    assert response.status_code == status
    assert project.name not in response.content.decode()


# -- creating from a template: recorded in the audit chain ------------------------------------


def create_from_template(client, project, name: str = "Checkout down", **headers):
    data = incident_form_data(
        impact="major_outage",
        title="Checkout is down",
        monitors=["2", "4"],
        incident_template=name,
        confirm_duplicate="1",
    )
    return client.post(create_url(project), data, **headers)


def test_create_from_a_template_records_its_name(client_for, project, template, sandbox):
    response = create_from_template(client_for("responder"), project)
    assert response.status_code == 302
    attempt = IncidentAttempt.objects.get()
    assert attempt.template_name == "Checkout down"
    entries = list(attempt.audit_entries.order_by("id"))
    assert [e.action for e in entries] == ["incident.create.started", "incident.create.finished"]
    assert {e.template_name for e in entries} == {"Checkout down"}
    assert "incident_template" not in sandbox.state.create_requests[0]  # not sent to Phare
    assert audit_chain.check().problem is None
    detail = client_for("viewer").get(entries[-1].get_absolute_url()).content.decode()
    assert '<dd id="audit-template-name">Checkout down</dd>' in detail


def test_exports_carry_the_template_name_escaped_for_spreadsheets(
    client_for, project, project_admin, sandbox
):
    services.incident_template_create(
        actor=project_admin, project=project, values=INCIDENT_TEMPLATE | {"name": "=HYPERLINK(1)"}
    )
    create_from_template(client_for("responder"), project, name="=HYPERLINK(1)")
    url = reverse("incidents:audit_export_csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(client_for("viewer").get(url)).decode())))
    created = [row for row in rows if row["action"].startswith("incident.create")]
    assert [row["template_name"] for row in created] == ["'=HYPERLINK(1)"] * 2


def test_a_name_that_is_not_a_template_is_not_recorded(client_for, project, template, sandbox):
    create_from_template(client_for("responder"), project, name="<b>made up</b>")
    assert IncidentAttempt.objects.get().template_name == ""
    assert not AuditEntry.objects.exclude(template_name="").exists()


def test_after_an_htmx_create_the_next_form_has_no_template(client_for, project, template, sandbox):
    response = create_from_template(client_for("responder"), project, **FROM_THE_FORM)
    html = response.content.decode()
    assert response.status_code == 200
    slot = html[html.index('id="incident-template-slot"') :]
    assert 'hx-swap-oob="true"' in slot.split(">")[0]
    assert 'name="incident_template" id="id_incident_template"' in slot.split("</div>")[0]
    assert "Checkout down" not in slot.split("</div>")[0]


def test_template_name_is_in_the_chain_only_when_set(project, template, responder, sandbox):
    services.incident_create(
        actor=responder,
        project=project,
        payload=_payload(),
        submission_key=uuid.uuid4(),
        allow_duplicate=True,
        template_name="Checkout down",
    )
    entry = AuditEntry.objects.exclude(template_name="").order_by("id").first()
    plain = AuditEntry.objects.filter(template_name="").order_by("id").first()
    assert entry is not None and plain is not None
    # An entry without a template verifies as entries written before the field existed.
    values = {name: getattr(plain, name) for name in audit_chain.HASHED_FIELDS}
    assert audit_chain.entry_mac(values, plain.previous_hash, audit_chain.chain_keys()[0]) == (
        plain.entry_hash
    )
    assert audit_chain.check().problem is None
    for tampered_value, victim in (("Other template", entry), ("Sneaked in", plain)):
        set_template_name_behind_the_consoles_back(victim.pk, tampered_value)
        assert audit_chain.check().problem.entry_id == victim.pk
        set_template_name_behind_the_consoles_back(victim.pk, victim.template_name)
        assert audit_chain.check().problem is None


def set_template_name_behind_the_consoles_back(entry_id: int, value: str) -> None:
    """As someone with write access to the database would (PostgreSQL: past the trigger)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE incidents_auditentry SET template_name = %s WHERE id = %s", [value, entry_id]
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


def _payload():
    from django.utils import timezone

    from incidents.phare import IncidentPayload

    return IncidentPayload(
        impact="major_outage",
        title="Checkout is down",
        exclude_from_downtime=False,
        description="",
        incident_at=timezone.now(),
        recovery_at=None,
        monitors=[2],
    )


# -- Django admin -----------------------------------------------------------------------------


def make_staff(user):
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(Q(content_type__app_label="incidents")))
    return user


def test_staff_admin_manages_templates_of_their_projects_only(
    client_for, project, project_admin, outsider, template
):
    make_staff(project_admin)
    make_staff(outsider)
    change = reverse("admin:incidents_incidenttemplate_change", args=[template.pk])
    assert client_for("outsider").get(change).status_code in (403, 404)
    assert (
        "Checkout down"
        not in client_for("outsider")
        .get(reverse("admin:incidents_incidenttemplate_changelist"))
        .content.decode()
    )
    response = client_for("project_admin").post(
        change,
        {
            "name": "Checkout down",
            "impact": "major_outage",
            "title": "Changed in the admin",
            "description": INCIDENT_TEMPLATE["description"],
            "monitors": "[2]",
            "exclude_from_downtime": "on",
        },
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.title == "Changed in the admin"
    entry = template_entries()[-1]
    assert entry.actor_username == "dave"
    assert entry.payload["after"] == {"title": "Changed in the admin", "monitors": [2]}


def test_staff_admin_adds_a_template_in_the_admin_for_their_projects_only(
    client_for, project, project_admin, outsider, superuser
):
    make_staff(project_admin)
    make_staff(outsider)
    other, _ = services.project_provision(name="Blog", token="pha_test_sandbox_token_1234")
    add = reverse("admin:incidents_incidenttemplate_add")
    assert client_for("outsider").get(add).status_code == 403
    page = client_for("project_admin").get(add).content.decode()
    assert f'value="{project.pk}"' in page and f'value="{other.pk}"' not in page
    data = {"name": "From the admin", "impact": "unknown", "title": "Down", "description": ""}
    data |= {"monitors": "[1]"}
    refused = client_for("project_admin").post(add, data | {"project": other.pk})
    assert refused.status_code == 200 and not IncidentTemplate.objects.exists()
    assert client_for("project_admin").post(add, data | {"project": project.pk}).status_code == 302
    template = IncidentTemplate.objects.get()
    assert (template.project, template.monitors) == (project, [1])
    assert template_entries()[0].payload["after"]["name"] == "From the admin"
