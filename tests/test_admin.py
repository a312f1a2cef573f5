"""Django admin: the token is write-only, audit entries are read-only, and staff see and change
only the projects they manage, every change audited."""

import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.test import Client
from django.urls import reverse

from incidents import audit_chain, credentials, services
from incidents.models import AuditEntry, IncidentAttempt, Membership, Monitor, PhareProject
from tests.helpers import SANDBOX_TOKEN, make_member

pytestmark = pytest.mark.django_db

TOKEN = "pha_admin_canary_token_Kq4v"


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-password-1")
    client.force_login(admin)
    return client


NO_MEMBERS = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}


def add_project(admin_client, **fields):
    data = (
        {
            "name": "Shop",
            "slug": "shop",
            "phare_project_id": "",
            "phare_project_slug": "",
            "token": TOKEN,
        }
        | NO_MEMBERS
        | fields
    )
    return admin_client.post(reverse("admin:incidents_phareproject_add"), data)


def test_token_set_in_admin_is_stored_encrypted_and_never_shown(admin_client):
    assert add_project(admin_client).status_code == 302
    project = PhareProject.objects.get()
    assert credentials.reveal_token(project) == TOKEN
    change_page = admin_client.get(
        reverse("admin:incidents_phareproject_change", args=[project.pk])
    ).content.decode()
    assert TOKEN not in change_page
    assert project.token_ciphertext not in change_page
    assert "…Kq4v" in change_page


def test_empty_token_field_keeps_the_stored_token(admin_client):
    add_project(admin_client)
    project = PhareProject.objects.get()
    url = reverse("admin:incidents_phareproject_change", args=[project.pk])
    admin_client.post(url, {"name": "Shop EU", "slug": "shop", "token": ""} | NO_MEMBERS)
    project.refresh_from_db()
    assert project.name == "Shop EU"
    assert credentials.reveal_token(project) == TOKEN


def test_clear_token_removes_it(admin_client):
    add_project(admin_client)
    project = PhareProject.objects.get()
    url = reverse("admin:incidents_phareproject_change", args=[project.pk])
    admin_client.post(url, {"name": "Shop", "slug": "shop", "clear_token": "on"} | NO_MEMBERS)
    project.refresh_from_db()
    assert not project.has_token and project.token_last4 == ""


def test_audit_entries_cannot_be_added_or_changed_in_admin(admin_client, alice, project, sandbox):
    assert admin_client.get(reverse("admin:incidents_auditentry_add")).status_code == 403
    admin_client.post(
        reverse("incidents:incident_create", kwargs={"slug": project.slug}),
        {
            "submission_key": "3f1c6a1e-2f3b-4a8e-9d2b-1f1e0b6f7a10",
            "impact": "unknown",
            "title": "Admin test",
        },
    )
    entry = AuditEntry.objects.first()
    change = admin_client.post(
        reverse("admin:incidents_auditentry_change", args=[entry.pk]), {"error": "edited"}
    )
    assert change.status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).error == entry.error


def test_migrations_match_the_models():
    from io import StringIO

    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def test_token_changes_are_audited_without_the_token(admin_client):
    add_project(admin_client)
    project = PhareProject.objects.get()
    url = reverse("admin:incidents_phareproject_change", args=[project.pk])
    admin_client.post(url, {"name": "Shop", "slug": "shop", "clear_token": "on"} | NO_MEMBERS)
    entries = list(AuditEntry.objects.filter(project=project).order_by("id"))
    assert [(e.action, e.actor_username, e.outcome) for e in entries] == [
        ("project.changed", "root", "recorded"),
        ("credential.set", "root", "recorded"),
        ("credential.cleared", "root", "recorded"),
    ]
    for entry in entries:
        row = " ".join(str(value) for value in entry.__dict__.values())
        assert TOKEN not in row and "Kq4v" not in row
    detail = admin_client.get(reverse("incidents:audit_detail", args=[entries[1].pk]))
    assert detail.status_code == 200 and "Token set" in detail.content.decode()


def test_provisioning_from_the_command_line_is_audited(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    call_command("add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN", stdout=None)
    entries = AuditEntry.objects.order_by("id")
    assert [(e.action, e.actor_username, e.actor) for e in entries] == [
        ("project.changed", "command line", None),
        ("credential.set", "command line", None),
    ]


# -- roles: staff see and change only the projects they manage -------------------------------

SECRET_TITLE = "Payments cluster melting down"
# Every admin page of the console's models that shows a project's rows.
ROW_MODELS = ["phareproject", "auditentry", "incidentattempt", "monitor"]


def make_staff(user):
    """Staff with every model permission of the console (and of seeing users, for the member
    picker): only their role in a project stands between them and it."""
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(
            Q(content_type__app_label="incidents")
            | Q(content_type__app_label="auth", codename="view_user")
        )
    )
    return user


@pytest.fixture
def staff_outsider(outsider):
    """bob, staff with every model permission, member of no project."""
    return make_staff(outsider)


@pytest.fixture
def staff_project_admin(project_admin):
    """dave, admin of the project and staff with every model permission."""
    return make_staff(project_admin)


def declare(project, actor, title: str = SECRET_TITLE) -> IncidentAttempt:
    """An attempt and its first audit entry, as a create leaves them."""
    attempt = IncidentAttempt.objects.create(
        submission_key=uuid.uuid4(),
        project=project,
        actor=actor,
        payload={"title": title, "impact": "major_outage", "monitors": [1]},
        state=IncidentAttempt.State.CREATED,
    )
    audit_chain.append(
        AuditEntry(
            actor=actor,
            actor_username=actor.get_username(),
            project=project,
            attempt=attempt,
            action=AuditEntry.Action.INCIDENT_CREATE_STARTED,
            outcome=AuditEntry.Outcome.PENDING,
            title=title,
            payload=attempt.payload,
        )
    )
    return attempt


@pytest.fixture
def declared(project, responder) -> IncidentAttempt:
    return declare(project, responder)


@pytest.fixture
def other_project(sandbox, responder):
    """Blog, a second project with monitors, an attempt and audit entries; dave manages only
    the first one (Demo)."""
    blog, _ = services.project_provision(name="Blog", token=SANDBOX_TOKEN)
    services.monitor_sync(actor=None, project=blog)
    make_member(responder, blog)
    declare(blog, responder, title="Blog comments down")
    return blog


def row_of(model: str, project):
    """One row of `project` shown by the admin page of `model`."""
    return {
        "phareproject": project,
        "auditentry": AuditEntry.objects.filter(project=project).first(),
        "incidentattempt": IncidentAttempt.objects.filter(project=project).first(),
        "monitor": project.monitors.first(),
    }[model]


def admin_url(model: str, view: str, *args) -> str:
    return reverse(f"admin:incidents_{model}_{view}", args=args)


def change_form(project, members=(), **fields) -> dict:
    """The project's change form as the admin posts it: its settings, its members as they
    are (plus `members`, new rows of (user, role)), no token."""
    data = {
        "name": project.name,
        "slug": project.slug,
        "phare_project_id": project.phare_project_id or "",
        "phare_project_slug": project.phare_project_slug,
        "organization": project.organization,
        "token": "",
    }
    if project.organization_key:
        data["organization_key"] = "on"
    rows = [
        {"id": m.pk, "project": project.pk, "user": m.user_id, "role": m.role}
        for m in Membership.objects.filter(project=project).order_by("pk")
    ]
    rows += [{"id": "", "project": project.pk, "user": u.pk, "role": r} for u, r in members]
    data |= {"memberships-TOTAL_FORMS": len(rows), "memberships-INITIAL_FORMS": len(rows)}
    data["memberships-INITIAL_FORMS"] -= len(members)
    for number, row in enumerate(rows):
        data |= {f"memberships-{number}-{name}": value for name, value in row.items()}
    return data | fields


def assert_hidden(response, project, *secrets: str) -> None:
    html = response.content.decode()
    for secret in (project.name, SECRET_TITLE, *secrets):
        assert secret not in html, f"{secret!r} shown"


@pytest.mark.parametrize("model", ROW_MODELS)
def test_staff_non_member_sees_no_list_and_no_row(client_for, staff_outsider, declared, model):
    project = declared.project
    bob = client_for("outsider")
    listed = bob.get(admin_url(model, "changelist"))
    assert listed.status_code == 403
    assert_hidden(listed, project, "alice")
    pk = row_of(model, project).pk
    for view in ("change", "history"):
        page = bob.get(admin_url(model, view, pk))
        assert page.status_code == 404, view
        assert_hidden(page, project, "alice")


def test_staff_non_member_sees_no_project_in_the_admin_index(client_for, staff_outsider, project):
    index = client_for("outsider").get(reverse("admin:index"))
    assert index.status_code == 200
    html = index.content.decode()
    for model in ROW_MODELS:
        assert admin_url(model, "changelist") not in html


def test_staff_non_member_cannot_change_a_project_or_join_it(
    client_for, staff_outsider, project, project_admin
):
    bob = client_for("outsider")
    stolen = change_form(
        project,
        members=[(staff_outsider, "admin")],
        phare_project_slug="attackers-project",
        organization="attackers",
    )
    entries_before = AuditEntry.objects.count()
    response = bob.post(admin_url("phareproject", "change", project.pk), stolen)
    assert response.status_code == 404
    project.refresh_from_db()
    assert (project.phare_project_slug, project.organization) == ("", "")
    assert not Membership.objects.filter(user=staff_outsider).exists()
    assert AuditEntry.objects.count() == entries_before
    # Nor by adding a project of his own with the same slug, nor by deleting it.
    added = bob.post(admin_url("phareproject", "add"), stolen | {"slug": "mine"})
    assert added.status_code == 403
    assert bob.post(admin_url("phareproject", "delete", project.pk)).status_code == 404
    assert not Membership.objects.filter(user=staff_outsider).exists()
    assert PhareProject.objects.count() == 1


@pytest.mark.parametrize("model", ROW_MODELS)
def test_project_admin_sees_only_their_projects_rows(
    client_for, staff_project_admin, declared, other_project, model
):
    dave = client_for("project_admin")
    mine, theirs = row_of(model, declared.project), row_of(model, other_project)
    listed = dave.get(admin_url(model, "changelist"))
    assert listed.status_code == 200
    html = listed.content.decode()
    assert admin_url(model, "change", mine.pk) in html
    assert admin_url(model, "change", theirs.pk) not in html
    assert "Blog" not in html  # not even among the filter's choices
    page = dave.get(admin_url(model, "change", theirs.pk))
    assert page.status_code == 404
    assert "Blog" not in page.content.decode()


def test_project_admin_cannot_change_or_join_another_project(
    client_for, staff_project_admin, other_project
):
    dave = client_for("project_admin")
    response = dave.post(
        admin_url("phareproject", "change", other_project.pk),
        change_form(other_project, members=[(staff_project_admin, "admin")], name="Taken"),
    )
    assert response.status_code == 404
    other_project.refresh_from_db()
    assert other_project.name == "Blog"
    assert not Membership.objects.filter(project=other_project, user=staff_project_admin).exists()
    # Adding projects is for superusers: nobody manages a project before it exists.
    assert dave.get(admin_url("phareproject", "add")).status_code == 403


def test_project_admin_changes_their_project_and_members_each_change_audited(
    client_for, staff_project_admin, project, viewer, responder, django_user_model
):
    erin = django_user_model.objects.create_user("erin")
    form = change_form(project, members=[(erin, "responder")], name="Demo EU", organization="acme")
    rows = {form[f"memberships-{n}-user"]: n for n in range(form["memberships-TOTAL_FORMS"])}
    form[f"memberships-{rows[responder.pk]}-role"] = "viewer"  # alice: responder → viewer
    form[f"memberships-{rows[viewer.pk]}-DELETE"] = "on"  # carol leaves
    before = AuditEntry.objects.count()

    response = client_for("project_admin").post(
        admin_url("phareproject", "change", project.pk), form
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert (project.name, project.organization) == ("Demo EU", "acme")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"alice": "viewer", "dave": "admin", "erin": "responder"}
    entries = AuditEntry.objects.order_by("id")[before:]
    assert [(e.action, e.actor_username, e.actor_id, e.project_id) for e in entries] == [
        ("project.changed", "dave", staff_project_admin.pk, project.pk),
        ("membership.removed", "dave", staff_project_admin.pk, project.pk),
        ("membership.set", "dave", staff_project_admin.pk, project.pk),
        ("membership.set", "dave", staff_project_admin.pk, project.pk),
    ]
    assert [e.payload for e in entries] == [
        {
            "before": {"name": "Demo", "organization": ""},
            "after": {"name": "Demo EU", "organization": "acme"},
        },
        {
            "member": "carol",
            "member_id": viewer.pk,
            "before": {"role": "viewer"},
            "after": {"role": None},
        },
        {
            "member": "alice",
            "member_id": responder.pk,
            "before": {"role": "responder"},
            "after": {"role": "viewer"},
        },
        {
            "member": "erin",
            "member_id": erin.pk,
            "before": {"role": None},
            "after": {"role": "responder"},
        },
    ]
    # Saving the page again unchanged records nothing.
    again = client_for("project_admin").post(
        admin_url("phareproject", "change", project.pk), change_form(project)
    )
    assert again.status_code == 302
    assert AuditEntry.objects.count() == before + 4


def test_a_members_row_given_to_another_user_removes_the_first(
    client_for, staff_project_admin, project, responder, django_user_model
):
    erin = django_user_model.objects.create_user("erin")
    form = change_form(project)
    rows = {form[f"memberships-{n}-user"]: n for n in range(form["memberships-TOTAL_FORMS"])}
    form[f"memberships-{rows[responder.pk]}-user"] = erin.pk
    before = AuditEntry.objects.count()
    response = client_for("project_admin").post(
        admin_url("phareproject", "change", project.pk), form
    )
    assert response.status_code == 302
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"dave": "admin", "erin": "responder"}
    entries = AuditEntry.objects.order_by("id")[before:]
    assert [(e.action, e.payload["member"]) for e in entries] == [
        ("membership.removed", "alice"),
        ("membership.set", "erin"),
    ]


def test_a_token_changed_with_the_settings_is_audited_apart_and_never_recorded(
    client_for, staff_project_admin, project
):
    before = AuditEntry.objects.count()
    response = client_for("project_admin").post(
        admin_url("phareproject", "change", project.pk),
        change_form(project, token=TOKEN, name="Demo EU"),
    )
    assert response.status_code == 302
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert [(e.action, e.payload) for e in entries] == [
        ("project.changed", {"before": {"name": "Demo"}, "after": {"name": "Demo EU"}}),
        ("credential.set", None),
    ]
    for entry in entries:
        row = " ".join(str(value) for value in entry.__dict__.values())
        assert TOKEN not in row and "Kq4v" not in row


def test_superuser_sees_and_changes_every_project(client_for, declared, other_project):
    root = client_for("superuser")
    for model in ROW_MODELS:
        html = root.get(admin_url(model, "changelist")).content.decode()
        for project in (declared.project, other_project):
            row = row_of(model, project)
            assert admin_url(model, "change", row.pk) in html, (model, project)
            assert root.get(admin_url(model, "change", row.pk)).status_code == 200
    response = root.post(
        admin_url("phareproject", "change", other_project.pk),
        change_form(other_project, name="Blog EU"),
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.order_by("id").last()
    assert (entry.action, entry.actor_username, entry.payload) == (
        "project.changed",
        "root",
        {"before": {"name": "Blog"}, "after": {"name": "Blog EU"}},
    )


@pytest.mark.parametrize("model", [PhareProject, AuditEntry, IncidentAttempt, Monitor])
def test_object_permissions_refuse_rows_of_projects_the_user_does_not_manage(
    rf, staff_outsider, staff_project_admin, superuser, responder, declared, other_project, model
):
    model_admin = admin.site._registry[model]
    mine, theirs = (row_of(model._meta.model_name, p) for p in (declared.project, other_project))

    def allowed(user, obj) -> dict[str, bool]:
        request = rf.get("/admin/")
        request.user = user
        checks = ["view", "change", "delete"]
        return {c: getattr(model_admin, f"has_{c}_permission")(request, obj) for c in checks}

    nothing = {"view": False, "change": False, "delete": False}
    assert allowed(staff_outsider, mine) == allowed(staff_outsider, theirs) == nothing
    assert allowed(staff_project_admin, theirs) == nothing
    make_staff(responder)  # a responder with every model permission: still not a manager
    assert allowed(responder, mine) == nothing
    assert allowed(staff_project_admin, mine)["view"]
    assert allowed(superuser, theirs)["view"]
    editable = model is PhareProject
    assert allowed(staff_project_admin, mine)["change"] is editable
    assert allowed(superuser, theirs)["change"] is editable


def test_a_project_admin_who_steps_down_still_saves_the_other_changes(
    client_for, staff_project_admin, project, responder, django_user_model
):
    erin = django_user_model.objects.create_user("erin")
    form = change_form(project, members=[(erin, "admin")])
    rows = {form[f"memberships-{n}-user"]: n for n in range(form["memberships-TOTAL_FORMS"])}
    form[f"memberships-{rows[staff_project_admin.pk]}-DELETE"] = "on"  # dave leaves
    form[f"memberships-{rows[responder.pk]}-role"] = "viewer"
    before = AuditEntry.objects.count()
    dave = client_for("project_admin")
    response = dave.post(admin_url("phareproject", "change", project.pk), form)
    assert response.status_code == 302
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"alice": "viewer", "erin": "admin"}
    entries = AuditEntry.objects.order_by("id")[before:]
    assert [(e.action, e.payload["member"]) for e in entries] == [
        ("membership.set", "alice"),
        ("membership.set", "erin"),
        ("membership.removed", "dave"),
    ]
    assert dave.get(admin_url("phareproject", "change", project.pk)).status_code == 404


def test_the_admins_view_on_site_redirect_reveals_no_project(project, django_user_model):
    """Django's /admin/r/ shortcut checks only is_staff; it would hand any staff user the
    project's address and slug by its id."""
    from django.contrib.contenttypes.models import ContentType

    staff = django_user_model.objects.create_user("stan", is_staff=True)
    client = Client()
    client.force_login(staff)
    content_type = ContentType.objects.get_for_model(project)
    response = client.get(f"/admin/r/{content_type.pk}/{project.pk}/")
    assert response.status_code == 404
    assert project.slug not in response.get("Location", "")
