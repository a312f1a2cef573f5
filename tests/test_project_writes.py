"""Project settings and memberships change only through their use cases, which check the role
and audit each change with the old and new values (services/projects.py, memberships.py)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import permissions, services
from incidents.models import AuditEntry, Membership, PhareProject
from incidents.permissions import Capability

pytestmark = pytest.mark.django_db


@pytest.fixture
def erin(django_user_model):
    return django_user_model.objects.create_user("erin")


def entries_since(count: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("id")[count:])


@pytest.fixture
def not_managers(responder, viewer, outsider) -> dict:
    return {"responder": responder, "viewer": viewer, "outsider": outsider, "anonymous": None}


@pytest.mark.parametrize("persona", ["responder", "viewer", "outsider", "anonymous"])
def test_only_project_admins_change_members_or_settings(not_managers, persona, project, erin):
    actor = not_managers[persona] or AnonymousUser()
    alice = project.memberships.get(role="responder").user
    before = AuditEntry.objects.count()
    with pytest.raises(PermissionDenied):
        services.membership_set(actor=actor, project=project, user=erin, role="admin")
    with pytest.raises(PermissionDenied):
        services.membership_set(actor=actor, project=project, user=actor, role="admin")
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=actor, project=project, user=alice)
    with pytest.raises(PermissionDenied):
        services.project_change(actor=actor, project=project, changes={"organization": "x"})
    with pytest.raises(PermissionDenied):
        services.project_create(actor=actor, project=PhareProject(name="Mine", slug="mine"))
    assert not Membership.objects.filter(user=erin).exists()
    assert Membership.objects.filter(project=project).count() == 2  # alice and carol
    assert PhareProject.objects.get().organization == ""
    assert AuditEntry.objects.count() == before


def test_project_admin_sets_and_removes_members_each_change_audited(project, project_admin, erin):
    before = AuditEntry.objects.count()
    set_role = services.membership_set
    assert set_role(actor=project_admin, project=project, user=erin, role="viewer") is None
    assert set_role(actor=project_admin, project=project, user=erin, role="viewer") == "viewer"
    assert set_role(actor=project_admin, project=project, user=erin, role="responder") == "viewer"
    assert services.membership_remove(actor=project_admin, project=project, user=erin) == (
        "responder"
    )
    assert services.membership_remove(actor=project_admin, project=project, user=erin) is None
    assert not Membership.objects.filter(user=erin).exists()
    member = {"member": "erin", "member_id": erin.pk}
    assert [(e.action, e.actor_username, e.actor_id, e.payload) for e in entries_since(before)] == [
        (
            "membership.set",
            "dave",
            project_admin.pk,
            member | {"before": {"role": None}, "after": {"role": "viewer"}},
        ),
        (
            "membership.set",
            "dave",
            project_admin.pk,
            member | {"before": {"role": "viewer"}, "after": {"role": "responder"}},
        ),
        (
            "membership.removed",
            "dave",
            project_admin.pk,
            member | {"before": {"role": "responder"}, "after": {"role": None}},
        ),
    ]


def test_an_unknown_role_is_refused(project, project_admin, erin):
    with pytest.raises(ValueError):
        services.membership_set(actor=project_admin, project=project, user=erin, role="owner")
    assert not Membership.objects.filter(user=erin).exists()


def test_an_admin_who_steps_down_loses_the_role_within_the_same_request(project, project_admin):
    assert permissions.can(project_admin, project, Capability.MANAGE)  # remembered from here on
    services.membership_set(actor=project_admin, project=project, user=project_admin, role="viewer")
    assert not permissions.can(project_admin, project, Capability.MANAGE)
    with pytest.raises(PermissionDenied):
        services.project_change(actor=project_admin, project=project, changes={"name": "Mine"})


def test_project_change_records_only_what_changed_with_old_values_from_the_database(
    project, project_admin
):
    before = AuditEntry.objects.count()
    stale = PhareProject.objects.get(pk=project.pk)
    changed = services.project_change(
        actor=project_admin,
        project=project,
        changes={"name": "Demo", "phare_project_id": 42, "organization": "acme"},
    )
    assert changed == {"phare_project_id": (None, 42), "organization": ("", "acme")}
    # A copy read before that change: the entry's old values are the stored ones, not its own.
    services.project_change(actor=project_admin, project=stale, changes={"organization": "beta"})
    assert [e.payload for e in entries_since(before)] == [
        {
            "before": {"phare_project_id": None, "organization": ""},
            "after": {"phare_project_id": 42, "organization": "acme"},
        },
        {"before": {"organization": "acme"}, "after": {"organization": "beta"}},
    ]
    assert services.project_change(actor=project_admin, project=project, changes={}) == {}
    assert AuditEntry.objects.count() == before + 2


@pytest.mark.parametrize("field", ["token_ciphertext", "token_last4", "token_fingerprint", "pk"])
def test_project_change_never_touches_the_token_or_other_columns(project, project_admin, field):
    before = AuditEntry.objects.count()
    with pytest.raises(ValueError, match="Not a project setting"):
        services.project_change(actor=project_admin, project=project, changes={field: "x"})
    assert AuditEntry.objects.count() == before


def test_project_change_refuses_settings_the_model_refuses(project, project_admin):
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationError, match="needs the Phare project id or slug"):
        services.project_change(
            actor=project_admin, project=project, changes={"organization_key": True}
        )
    assert not PhareProject.objects.get(pk=project.pk).organization_key
    assert AuditEntry.objects.count() == before


def test_only_superusers_create_projects(project_admin, superuser, project):
    with pytest.raises(PermissionDenied, match="Only superusers"):
        services.project_create(actor=project_admin, project=PhareProject(name="Mine", slug="mine"))
    created = services.project_create(
        actor=superuser, project=PhareProject(name="Blog", slug="blog", organization="acme")
    )
    entry = AuditEntry.objects.order_by("id").last()
    assert (entry.action, entry.actor_username, entry.project_id) == (
        "project.changed",
        "root",
        created.pk,
    )
    assert entry.payload["created"] is True
    assert entry.payload["after"]["organization"] == "acme"
    assert set(entry.payload["before"]) == set(services.PROJECT_SETTINGS)
