"""Django admin: the token is write-only, and audit entries are read-only."""

import pytest
from django.urls import reverse

from incidents import credentials
from incidents.models import AuditEntry, PhareProject

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
        ("credential.set", "root", "recorded"),
        ("credential.cleared", "root", "recorded"),
    ]
    for entry in entries:
        row = " ".join(str(value) for value in entry.__dict__.values())
        assert TOKEN not in row and "Kq4v" not in row
    detail = admin_client.get(reverse("incidents:audit_detail", args=[entries[0].pk]))
    assert detail.status_code == 200 and "Token set" in detail.content.decode()


def test_provisioning_from_the_command_line_is_audited(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    call_command("add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN", stdout=None)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_username, entry.actor) == (
        "credential.set",
        "command line",
        None,
    )
