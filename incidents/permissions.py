"""Who may do what in a project: roles per project, superusers everything.

Services call `require`; selectors filter with the same rules, so a page and the use case
behind it never disagree.
"""

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from incidents.models import Membership, PhareProject

# Whoever acts: a logged-in user or, on pages that allow it, an anonymous one.
User = AuthUser | AnonymousUser


def recorded_actor(user: User | None) -> AuthUser | None:
    """Who to record as having acted: the signed-in user, or None (the command line, cron)."""
    return user if isinstance(user, AuthUser) else None


class Capability(StrEnum):
    VIEW = "view"  # the project's incidents and audit entries
    RESPOND = "respond"  # create (and later update) incidents, refresh monitors
    MANAGE = "manage"  # the project's token and members


ROLE_CAPABILITIES = {
    Membership.Role.VIEWER: {Capability.VIEW},
    Membership.Role.RESPONDER: {Capability.VIEW, Capability.RESPOND},
    Membership.Role.ADMIN: {Capability.VIEW, Capability.RESPOND, Capability.MANAGE},
}
REFUSALS = {
    Capability.VIEW: "You are not a member of this project.",
    Capability.RESPOND: "Only the project's responders and admins can do this. Ask a project "
    "admin to make you a responder.",
    Capability.MANAGE: "Only the project's admins can do this.",
}


def _remembered_roles(user: User) -> dict[int, str | None]:
    # Kept on the user object, which lives for one request: a page asks several times.
    return user.__dict__.setdefault("_phare_roles", {})


def remember_role(user: User, project: PhareProject, role: str | None) -> None:
    """For a role read along with the project (one query instead of two)."""
    _remembered_roles(user)[project.pk] = role


def forget_role(user: User, project: PhareProject) -> None:
    """After a change of `user`'s role in `project`, so this request asks the database again."""
    _remembered_roles(user).pop(project.pk, None)


def role_of(user: User, project: PhareProject) -> str | None:
    if not (user.is_authenticated and user.is_active):
        return None
    roles = _remembered_roles(user)
    if project.pk not in roles:
        roles[project.pk] = (
            Membership.objects.filter(project=project, user=user)
            .values_list("role", flat=True)
            .first()
        )
    return roles[project.pk]


def can(user: User, project: PhareProject, capability: Capability) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    role = role_of(user, project)
    return role is not None and capability in ROLE_CAPABILITIES[Membership.Role(role)]


def require(user: User, project: PhareProject, capability: Capability) -> None:
    if not can(user, project, capability):
        raise PermissionDenied(REFUSALS[capability])


def projects_where(user: User, capability: Capability) -> QuerySet[PhareProject]:
    """The projects where `user` has `capability` (every one for superusers): `can` as a query,
    for lists such as the Django admin's."""
    if not (user.is_authenticated and user.is_active):
        return PhareProject.objects.none()
    if user.is_superuser:
        return PhareProject.objects.all()
    roles = [role for role, capabilities in ROLE_CAPABILITIES.items() if capability in capabilities]
    return PhareProject.objects.filter(memberships__user=user, memberships__role__in=roles)
