"""Previewing a create: the exact request Create incident would send, without sending it."""

from incidents import permissions
from incidents.models import PhareProject
from incidents.permissions import Capability, User
from incidents.phare import IncidentPayload, RequestPreview, describe_create_request


def incident_create_preview(
    *,
    actor: User,
    project: PhareProject,
    payload: IncidentPayload,
) -> RequestPreview:
    """The request incident_create would send to Phare for `payload` (the token shown as
    $PHARE_TOKEN). Nothing is sent, claimed or audited."""
    permissions.require(actor, project, Capability.RESPOND)
    return describe_create_request(project, payload)
