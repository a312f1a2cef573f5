"""A key starting pha_org_ is organization-scoped (as Phare's Terraform provider reads it): it
needs the project header, so a project without a Phare project id or slug is refused a clear
message everywhere it can be set or used."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from incidents import credentials, services
from incidents.admin import PhareProjectAdminForm
from incidents.models import PhareProject
from tests.helpers import make_member

pytestmark = pytest.mark.django_db

ORG_TOKEN = "pha_org_secret_value_5678"
NEEDS_PROJECT = "starts with pha_org_"


def test_the_command_refuses_an_organization_key_without_a_project(monkeypatch):
    monkeypatch.setenv("ORG_TOKEN", ORG_TOKEN)
    with pytest.raises(CommandError, match=NEEDS_PROJECT) as refused:
        # No --organization-key: the prefix says it.
        call_command("add_phare_project", "--name", "Org", "--token-env", "ORG_TOKEN")
    assert "Phare project id or slug" in str(refused.value)
    assert ORG_TOKEN not in str(refused.value)
    assert not PhareProject.objects.exists()


def test_the_command_accepts_it_with_a_project_slug(monkeypatch, sandbox):
    monkeypatch.setenv("ORG_TOKEN", ORG_TOKEN)
    call_command(
        "add_phare_project",
        "--name",
        "Org",
        "--token-env",
        "ORG_TOKEN",
        "--phare-project-slug",
        "demo-project",
    )
    assert credentials.reveal_token(PhareProject.objects.get()) == ORG_TOKEN


def admin_form(project: PhareProject | None = None, **fields) -> PhareProjectAdminForm:
    data = {
        "name": "Org",
        "slug": "org",
        "phare_project_id": "",
        "phare_project_slug": "",
        "organization": "",
        "token": ORG_TOKEN,
    } | fields
    return PhareProjectAdminForm(data, instance=project)


def test_the_admin_form_refuses_the_key_without_a_project():
    form = admin_form()
    assert not form.is_valid()
    assert NEEDS_PROJECT in form.errors["token"][0]
    assert admin_form(phare_project_id="42").is_valid()
    assert admin_form(phare_project_slug="luminous-tower").is_valid()


def test_the_admin_form_refuses_removing_the_project_of_a_stored_key():
    project = PhareProject(name="Org", slug="org", phare_project_id=42)
    credentials.encrypt_token_into(project, ORG_TOKEN)
    project.save()
    form = admin_form(project, token="")  # the stored key stays
    assert not form.is_valid()
    assert "needs the Phare project id or slug" in str(form.errors)
    with pytest.raises(ValidationError, match="starts with pha_org_"):
        PhareProject(
            name="Org",
            slug="org2",
            token_ciphertext=project.token_ciphertext,
        ).clean()


def test_test_connection_says_why_and_sends_nothing(project, sandbox, django_user_model):
    # A project stored before the prefix was read: an organization key, no Phare project.
    PhareProject.objects.filter(pk=project.pk).update(phare_project_id=None)
    project.refresh_from_db()
    project.phare_project_id = 1
    credentials.encrypt_token_into(project, ORG_TOKEN)
    PhareProject.objects.filter(pk=project.pk).update(token_ciphertext=project.token_ciphertext)
    admin = django_user_model.objects.create_user("dave")
    make_member(admin, project, "admin")
    calls = len(sandbox.state.request_log)
    result = services.project_connection_check(
        actor=admin, project=PhareProject.objects.get(pk=project.pk)
    )
    assert not result.works
    assert NEEDS_PROJECT in result.detail and "Phare project id or slug" in result.detail
    assert len(sandbox.state.request_log) == calls


def test_the_key_sends_the_header_without_the_box_ticked(project, sandbox, alice):
    sandbox.state.add_token(ORG_TOKEN, organization=True)
    PhareProject.objects.filter(pk=project.pk).update(
        phare_project_id=sandbox.state.project_id, organization_key=False
    )
    project.refresh_from_db()
    credentials.encrypt_token_into(project, ORG_TOKEN)
    project.save()
    result = services.monitor_sync(actor=None, project=project)
    assert result.total == 36  # the sandbox answers 422 to an organization key without it
