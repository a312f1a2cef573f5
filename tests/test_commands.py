"""Management commands: provisioning reads the token from the environment, never argv; project
and member changes made from the command line are audited as such."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from incidents import credentials
from incidents.models import AuditEntry, PhareProject

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_add_phare_project_reads_the_token_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "pha_org_secret_value_9876")
    output = run(
        "add_phare_project",
        "--name",
        "Shop",
        "--token-env",
        "SHOP_TOKEN",
        "--phare-project-id",
        "12",
        "--organization-key",
    )
    project = PhareProject.objects.get(slug="shop")
    assert output.strip() == (
        "Created project Shop (shop) with an organization-scoped token ending 9876."
    )
    assert "pha_org_secret" not in output
    assert (project.phare_project_id, project.organization_key) == (12, True)
    assert credentials.reveal_token(project) == "pha_org_secret_value_9876"


def test_add_phare_project_updates_an_existing_project(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "pha_first_1111")
    run("add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN")
    monkeypatch.setenv("SHOP_TOKEN", "pha_second_2222")
    output = run("add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN")
    assert output.startswith("Updated project Shop")
    assert PhareProject.objects.get().token_last4 == "2222"


def test_missing_variable_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(CommandError, match="NOPE_TOKEN is not set or empty"):
        run("add_phare_project", "--name", "Shop", "--token-env", "NOPE_TOKEN")
    assert not PhareProject.objects.exists()


@pytest.mark.parametrize("bad_id", ["abc", "-3", "0", "1.5", "²", "99999999999999999999999"])
def test_bad_project_id_is_one_clear_error(monkeypatch, bad_id):
    monkeypatch.setenv("SHOP_TOKEN", "pha_x_1234")
    with pytest.raises(CommandError, match="must be a positive whole number"):
        run(
            "add_phare_project",
            "--name",
            "Shop",
            "--token-env",
            "SHOP_TOKEN",
            "--phare-project-id",
            bad_id,
        )


def test_organization_key_without_project_is_refused(monkeypatch):
    monkeypatch.setenv("ORG_TOKEN", "pha_org_1234")
    with pytest.raises(CommandError, match="needs the Phare project id or slug"):
        run("add_phare_project", "--name", "Org", "--token-env", "ORG_TOKEN", "--organization-key")


def test_sync_monitors_reports_per_project(project, sandbox):
    sandbox.state.delete_monitor(4)
    output = run("sync_monitors", project.slug)
    assert output.strip() == "demo: 35 monitors (0 new, 1 removed)."


def test_sync_monitors_unknown_slug(db):
    with pytest.raises(CommandError, match="No such project: ghost"):
        run("sync_monitors", "ghost")


def test_sync_monitors_failure_exits_non_zero(project, sandbox):
    sandbox.state.add_fault(route="list_monitors", count=1, status=503)
    with pytest.raises(CommandError, match="1 project"):
        run("sync_monitors")


def test_setup_demo_prints_a_working_password(monkeypatch, sandbox, client):
    monkeypatch.setenv("DEMO_SANDBOX_TOKEN", "pha_test_sandbox_token_1234")
    output = run("setup_demo", "--sandbox-token-env", "DEMO_SANDBOX_TOKEN")
    password = output.split("with password ")[1].split()[0]
    response = client.post(reverse("login"), {"username": "demo", "password": password})
    assert response.status_code == 302
    assert "Demo project uses the Phare sandbox (36 monitors)" in output


def test_non_slug_phare_project_slug_is_refused(monkeypatch):
    monkeypatch.setenv("ORG_TOKEN", "pha_org_1234")
    with pytest.raises(CommandError, match="slug"):
        run(
            "add_phare_project",
            "--name",
            "Org",
            "--token-env",
            "ORG_TOKEN",
            "--phare-project-slug",
            "tøwer",
            "--organization-key",
        )


def test_projects_of_one_organization_share_a_rate_budget(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "pha_shop_1111")
    monkeypatch.setenv("BLOG_TOKEN", "pha_blog_2222")
    run(
        "add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN", "--organization", "acme"
    )
    run(
        "add_phare_project", "--name", "Blog", "--token-env", "BLOG_TOKEN", "--organization", "acme"
    )
    run("add_phare_project", "--name", "Solo", "--token-env", "BLOG_TOKEN")
    run("add_phare_project", "--name", "Solo two", "--token-env", "BLOG_TOKEN")
    keys = dict(PhareProject.objects.values_list("slug", "organization"))
    shop, blog, solo, solo_two = (
        PhareProject.objects.get(slug=slug) for slug in ("shop", "blog", "solo", "solo-two")
    )
    assert keys["shop"] == keys["blog"] == "acme"
    assert shop.rate_limit_key == blog.rate_limit_key == "org:acme"
    # Without an organization, the token stands for it: same token, same budget.
    assert solo.rate_limit_key == solo_two.rate_limit_key != shop.rate_limit_key
    assert solo.rate_limit_key.startswith("token:") and "2222" not in solo.rate_limit_key


def command_line_entries(since: int) -> list[tuple]:
    entries = AuditEntry.objects.order_by("id")[since:]
    return [(e.action, e.actor_username, e.actor_id, e.payload) for e in entries]


def test_add_member_audits_the_old_and_new_role_as_the_command_line(monkeypatch, django_user_model):
    monkeypatch.setenv("SHOP_TOKEN", "pha_shop_1111")
    run("add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN")
    erin = django_user_model.objects.create_user("erin")
    before = AuditEntry.objects.count()
    run("add_member", "shop", "erin", "--role", "viewer")
    run("add_member", "shop", "erin", "--role", "admin")
    again = run("add_member", "shop", "erin", "--role", "admin")
    assert again == "erin is already admin of Shop.\n"
    member = {"member": "erin", "member_id": erin.pk}
    assert command_line_entries(before) == [
        (
            "membership.set",
            "command line",
            None,
            member | {"before": {"role": None}, "after": {"role": "viewer"}},
        ),
        (
            "membership.set",
            "command line",
            None,
            member | {"before": {"role": "viewer"}, "after": {"role": "admin"}},
        ),
    ]


def test_add_phare_project_audits_the_settings_it_sets_never_the_token(monkeypatch):
    # Last four characters that no time, id or hash in a row can contain by chance.
    monkeypatch.setenv("SHOP_TOKEN", "pha_shop_secret_value_qzkw")
    shop = ["add_phare_project", "--name", "Shop", "--token-env", "SHOP_TOKEN"]
    run(*shop, "--phare-project-id", "12")
    monkeypatch.setenv("SHOP_TOKEN", "pha_shop_secret_value_xjvy")
    run(*shop, "--phare-project-id", "12", "--organization", "acme")
    settings = {
        "name": "Shop",
        "slug": "shop",
        "phare_project_id": 12,
        "phare_project_slug": "",
        "organization_key": False,
        "organization": "",
    }
    assert command_line_entries(0) == [
        (
            "project.changed",
            "command line",
            None,
            {"created": True, "before": dict.fromkeys(settings), "after": settings},
        ),
        ("credential.set", "command line", None, None),
        (
            "project.changed",
            "command line",
            None,
            {"before": {"organization": ""}, "after": {"organization": "acme"}},
        ),
        ("credential.set", "command line", None, None),
    ]
    for entry in AuditEntry.objects.all():
        row = " ".join(str(value) for value in entry.__dict__.values())
        assert "pha_shop_secret" not in row and "qzkw" not in row and "xjvy" not in row
