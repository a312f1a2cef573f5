"""Project use cases: provisioning, the stored token, and checking that Phare accepts it."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
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
    the command line (audited as such)."""
    slug = slugify(name)
    if not slug:
        raise ValueError("The project name needs at least one letter or digit.")
    project = PhareProject.objects.filter(slug=slug).first()
    created = project is None
    if project is None:
        project = PhareProject(slug=slug)
    project.name = name
    project.phare_project_id = phare_project_id
    project.phare_project_slug = phare_project_slug
    project.organization = organization
    project.organization_key = organization_key
    credentials.encrypt_token_into(project, token)
    try:
        project.full_clean()
    except ValidationError as error:
        raise ValueError(" ".join(error.messages)) from None
    project.save()
    _audit_credential_change(project, actor=None, action=AuditEntry.Action.CREDENTIAL_SET)
    return project, created


@sensitive_variables()
def project_set_token(*, actor: User, project: PhareProject, token: str) -> None:
    """Replace the project's stored token; the token is never read back or recorded."""
    permissions.require(actor, project, Capability.MANAGE)
    credentials.encrypt_token_into(project, token)
    project.save(
        update_fields=["token_ciphertext", "token_last4", "token_fingerprint", "updated_at"]
    )
    _audit_credential_change(project, actor=actor, action=AuditEntry.Action.CREDENTIAL_SET)


def project_clear_token(*, actor: User, project: PhareProject) -> None:
    permissions.require(actor, project, Capability.MANAGE)
    project.token_ciphertext = project.token_last4 = project.token_fingerprint = ""
    project.save(
        update_fields=["token_ciphertext", "token_last4", "token_fingerprint", "updated_at"]
    )
    _audit_credential_change(project, actor=actor, action=AuditEntry.Action.CREDENTIAL_CLEARED)


def _audit_credential_change(
    project: PhareProject, *, actor: User | None, action: AuditEntry.Action
) -> None:
    """Who changed which project's token, and when; never the token."""
    audit_chain.append(
        AuditEntry(
            actor=permissions.recorded_actor(actor),
            actor_username=actor.get_username() if actor else COMMAND_LINE_ACTOR,
            project=project,
            action=action,
            outcome=AuditEntry.Outcome.RECORDED,
        )
    )
