"""Who is a member of a project, with which role: set and removed by the project's admins (or
the command line, actor None), each change audited with the role before and after."""

from django.contrib.auth.models import User as AuthUser
from django.db import transaction

from incidents import permissions
from incidents.models import AuditEntry, Membership, PhareProject
from incidents.permissions import Capability, User
from incidents.services.projects import record_project_event


def membership_set(
    *, actor: User | None, project: PhareProject, user: AuthUser, role: str
) -> str | None:
    """Give `user` the `role` in `project`, or change theirs. Returns the role they had (None:
    not a member); a change is one membership.set entry. The project's admins only."""
    if actor is not None:
        permissions.require(actor, project, Capability.MANAGE)
    new_role = Membership.Role(role)  # ValueError for a role that does not exist
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(project=project, user=user).first()
        )
        old_role = membership.role if membership else None
        if old_role == new_role:
            return old_role
        if membership is None:
            Membership.objects.create(project=project, user=user, role=new_role)
        else:
            membership.role = new_role
            membership.save(update_fields=["role"])
        _record(actor, project, user, AuditEntry.Action.MEMBERSHIP_SET, old_role, new_role.value)
    _forget_roles(actor, user, project)
    return old_role


def membership_remove(*, actor: User | None, project: PhareProject, user: AuthUser) -> str | None:
    """Take `user` out of `project`. Returns the role they had (None: not a member, nothing
    recorded); a removal is one membership.removed entry. The project's admins only."""
    if actor is not None:
        permissions.require(actor, project, Capability.MANAGE)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(project=project, user=user).first()
        )
        if membership is None:
            return None
        old_role = membership.role
        membership.delete()
        _record(actor, project, user, AuditEntry.Action.MEMBERSHIP_REMOVED, old_role, None)
    _forget_roles(actor, user, project)
    return old_role


def _record(
    actor: User | None,
    project: PhareProject,
    user: AuthUser,
    action: AuditEntry.Action,
    old_role: str | None,
    new_role: str | None,
) -> None:
    record_project_event(
        project,
        actor=actor,
        action=action,
        payload={
            "member": user.get_username(),
            "member_id": user.pk,
            "before": {"role": old_role},
            "after": {"role": new_role},
        },
    )


def _forget_roles(actor: User | None, user: AuthUser, project: PhareProject) -> None:
    # The role is remembered on the user object for the rest of the request (the actor may
    # have changed their own).
    for who in (actor, user):
        if who is not None:
            permissions.forget_role(who, project)
