"""Who may do what in a project: roles per project, superusers everything.

Services call `require`; selectors filter with the same rules, so a page and the use case
behind it never disagree.
"""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from incidents.models import Membership, PhareProject

User = AbstractBaseUser | AnonymousUser


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


def role_of(user: User, project: PhareProject) -> str | None:
    if not (user.is_authenticated and user.is_active):
        return None
    # Remembered on the user object, which lives for one request: a page asks several times.
    roles = user.__dict__.setdefault("_phare_roles", {})
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
