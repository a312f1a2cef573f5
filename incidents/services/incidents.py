"""Incident use cases: what a responder does to Phare's incidents, at most once and audited."""

import uuid

from incidents import duplicates, permissions
from incidents.exceptions import DuplicateSuspected
from incidents.models import IncidentAttempt, PhareProject
from incidents.permissions import Capability, User
from incidents.phare import IncidentPayload
from incidents.services.attempts import Write, created_incident_in_phare, write_once


def incident_create(
    *,
    actor: User,
    project: PhareProject,
    payload: IncidentPayload,
    submission_key: uuid.UUID,
    allow_duplicate: bool = False,
) -> IncidentAttempt:
    """Create an incident in Phare, at most once per submission key (see write_once), auditing
    every step. A new key whose monitors already have an ongoing incident declared in the last
    few minutes raises DuplicateSuspected, unless `allow_duplicate` (the person confirmed)."""
    permissions.require(actor, project, Capability.RESPOND)
    if (
        not allow_duplicate
        and not IncidentAttempt.objects.filter(submission_key=submission_key).exists()
    ):
        found = duplicates.possible_duplicates(
            project, payload.monitors, submission_key=submission_key
        )
        if found:
            raise DuplicateSuspected(found)
    write = Write(
        kind=IncidentAttempt.Kind.CREATE,
        body=payload.to_json(),
        send=lambda client: client.create_incident(payload),
        look_up=created_incident_in_phare,
    )
    return write_once(actor=actor, project=project, submission_key=submission_key, write=write)
