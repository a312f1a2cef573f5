"""Project use cases: provisioning, settings, the stored token, and checking that Phare accepts
it. Every write checks the actor's role and is audited, whatever the entry point (the admin, a
command); actor None is the command line, the trusted operator with the server's shell."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from incidents import audit_chain, credentials, permissions
from incidents.models import AuditEntry, PhareProject
from incidents.permissions import Capability, User
from incidents.phare import PhareAuthError, PhareClient, PhareError, message_in


@dataclass(frozen=True)
class ConnectionCheck:
    works: bool
    summary: str
    detail: str = ""


def project_connection_check(*, actor: User, project: PhareProject) -> ConnectionCheck:
    """Whether Phare accepts the project's token, with one cheap read (admins only)."""
    permissions.require(actor, project, Capability.MANAGE)
    try:
        PhareClient(project).check_access()
    except PhareAuthError as error:
        if error.status == 401:
            return ConnectionCheck(False, "Token rejected (401)", "Phare does not accept it.")
        if error.status == 403:
            message = message_in(error.body, "")
            detail = f"Phare says: “{message}”" if message else "Phare gave no reason."
            return ConnectionCheck(False, "Missing permission (403)", detail)
        return ConnectionCheck(False, "No usable token", error.message)
    except PhareError as error:
        return ConnectionCheck(False, "Could not check", error.message)
    return ConnectionCheck(True, "Works", "Phare accepted the token and listed the monitors.")


COMMAND_LINE_ACTOR = "command line"


# What project.changed entries record. The token is not a setting: it has use cases of its own
# (project_set_token, project_clear_token), audited as credential.set / credential.cleared.
PROJECT_SETTINGS = (
    "name",
    "slug",
    "phare_project_id",
    "phare_project_slug",
    "organization_key",
    "organization",
)
ONLY_SUPERUSERS_ADD = "Only superusers can add projects."


@sensitive_variables()
def project_provision(
    *,
    name: str,
    token: str,
    phare_project_id: int | None = None,
    phare_project_slug: str = "",
    organization: str = "",
    organization_key: bool = False,
) -> tuple[PhareProject, bool]:
    """Create or update the project named `name` (matched by its slug) with a new token, from
    the command line (audited as such: project.changed with what changed, credential.set)."""
    slug = slugify(name)
    if not slug:
        raise ValueError("The project name needs at least one letter or digit.")
    settings = {
        "name": name,
        "slug": slug,
        "phare_project_id": phare_project_id,
        "phare_project_slug": phare_project_slug,
        "organization": organization,
        "organization_key": organization_key,
    }
    try:
        with transaction.atomic():
            project = PhareProject.objects.filter(slug=slug).first()
            created = project is None
            if project is None:
                project = project_create(actor=None, project=PhareProject(**settings))
            else:
                project_change(actor=None, project=project, changes=settings)
            _store_token(project, token, actor=None)
    except ValidationError as error:
        raise ValueError(" ".join(error.messages)) from None
    return project, created


def project_create(*, actor: User | None, project: PhareProject) -> PhareProject:
    """Save the new `project` (settings filled in, no token yet), audited as project.changed
    from nothing to its settings. Superusers only: nobody manages a project before it exists.

    Raises ValidationError for settings the model refuses."""
    if actor is not None and not (actor.is_active and actor.is_superuser):
        raise PermissionDenied(ONLY_SUPERUSERS_ADD)
    if project.pk is not None:
        raise ValueError("This project exists already; change it with project_change.")
    project.full_clean()
    with transaction.atomic():
        project.save()
        record_project_event(
            project,
            actor=actor,
            action=AuditEntry.Action.PROJECT_CHANGED,
            payload={
                "created": True,
                "before": dict.fromkeys(PROJECT_SETTINGS),
                "after": {name: getattr(project, name) for name in PROJECT_SETTINGS},
            },
        )
    return project


def project_change(
    *, actor: User | None, project: PhareProject, changes: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Set the project's settings (names from PROJECT_SETTINGS, never the token) to `changes`.
    Returns what really changed, {name: (old, new)}, the old values read from the database; a
    change is one project.changed entry with both. The project's admins only.

    Raises ValidationError for settings the model refuses."""
    if actor is not None:
        permissions.require(actor, project, Capability.MANAGE)
    if unknown := set(changes) - set(PROJECT_SETTINGS):
        raise ValueError(f"Not a project setting: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        stored = PhareProject.objects.select_for_update().get(pk=project.pk)
        changed = {
            name: (getattr(stored, name), value)
            for name, value in changes.items()
            if getattr(stored, name) != value
        }
        if not changed:
            return {}
        for name, (_, new) in changed.items():
            setattr(stored, name, new)
        stored.full_clean()
        stored.save(update_fields=[*changed, "updated_at"])
        record_project_event(
            project,
            actor=actor,
            action=AuditEntry.Action.PROJECT_CHANGED,
            payload={
                "before": {name: old for name, (old, _) in changed.items()},
                "after": {name: new for name, (_, new) in changed.items()},
            },
        )
    for name, (_, new) in changed.items():
        setattr(project, name, new)
    project.updated_at = stored.updated_at
    return changed


@sensitive_variables()
def project_set_token(*, actor: User, project: PhareProject, token: str) -> None:
    """Replace the project's stored token; the token is never read back or recorded."""
    permissions.require(actor, project, Capability.MANAGE)
    _store_token(project, token, actor=actor)


@sensitive_variables()
def _store_token(project: PhareProject, token: str, *, actor: User | None) -> None:
    credentials.encrypt_token_into(project, token)
    project.save(
        update_fields=["token_ciphertext", "token_last4", "token_fingerprint", "updated_at"]
    )
    record_project_event(project, actor=actor, action=AuditEntry.Action.CREDENTIAL_SET)


def project_clear_token(*, actor: User, project: PhareProject) -> None:
    permissions.require(actor, project, Capability.MANAGE)
    project.token_ciphertext = project.token_last4 = project.token_fingerprint = ""
    project.save(
        update_fields=["token_ciphertext", "token_last4", "token_fingerprint", "updated_at"]
    )
    record_project_event(project, actor=actor, action=AuditEntry.Action.CREDENTIAL_CLEARED)


def record_project_event(
    project: PhareProject,
    *,
    actor: User | None,
    action: AuditEntry.Action,
    payload: dict[str, Any] | None = None,
) -> None:
    """Who changed what in a project's set-up (settings, members, token), and when; never a
    token. Actor None: the command line."""
    audit_chain.append(
        AuditEntry(
            actor=permissions.recorded_actor(actor),
            actor_username=actor.get_username() if actor else COMMAND_LINE_ACTOR,
            project=project,
            action=action,
            outcome=AuditEntry.Outcome.RECORDED,
            payload=payload,
        )
    )
