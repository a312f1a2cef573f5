"""Incident use cases: what a responder does to Phare's incidents, at most once and audited."""

import uuid
from dataclasses import replace
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents import duplicates, permissions
from incidents.exceptions import DuplicateSuspected, EditConflict, NothingToChange
from incidents.models import INCIDENT_STATUS_RANK, IncidentAttempt, PhareIncident, PhareProject
from incidents.permissions import Capability, User
from incidents.phare import (
    Incident,
    IncidentPayload,
    IncidentUpdatePayload,
    PhareClient,
    PhareError,
    PhareNotFound,
    incident_edit_body,
    same_value,
)
from incidents.phare.schemas import EDITABLE_FIELDS
from incidents.services import background, incident_copy
from incidents.services.attempts import (
    RECONCILE_CLOCK_SKEW,
    Answer,
    Done,
    Write,
    created_incident_in_phare,
    write_once,
)

Kind = IncidentAttempt.Kind


def incident_create(
    *,
    actor: User,
    project: PhareProject,
    payload: IncidentPayload,
    submission_key: uuid.UUID,
    allow_duplicate: bool = False,
    template_name: str = "",
) -> IncidentAttempt:
    """Create an incident in Phare, at most once per submission key (see write_once), auditing
    every step. A new key whose monitors already have an ongoing incident declared in the last
    few minutes raises DuplicateSuspected, unless `allow_duplicate` (the person confirmed).
    `template_name`: the incident template the form was filled from, kept on the attempt and
    its audit entries."""
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
        on_done=_store_created,
        template_name=template_name,
    )
    return write_once(actor=actor, project=project, submission_key=submission_key, write=write)


def _store_created(attempt: IncidentAttempt, answer: Answer) -> None:
    # The answer shows the attempt, not the copy: the copy is written once the person has it
    # (the incident's page, until then, reads Phare once if opened first).
    if isinstance(answer, Incident):
        background.when_answered(
            f"incident-copy-{answer.id}",
            incident_copy.store_incident,
            attempt.project,
            answer,
            outside=False,
        )


def incident_update_create(
    *,
    actor: User,
    incident: PhareIncident,
    payload: IncidentUpdatePayload,
    submission_key: uuid.UUID,
) -> IncidentAttempt:
    """Post an update on the incident's timeline, at most once per submission key. After an
    unclear answer, the timeline is read first: an update with the same state and message,
    posted since the first try, means it was posted."""
    permissions.require(actor, incident.project, Capability.RESPOND)

    def send(client: PhareClient) -> Answer:
        update = client.create_incident_update(incident.phare_id, payload)
        return Done(update.raw, 201, update)

    def look_up(client: PhareClient, attempt: IncidentAttempt) -> Answer | None:
        since = attempt.created_at - RECONCILE_CLOCK_SKEW
        # Updates already known as someone's post through the console are not this one.
        claimed = set(
            incident.updates.filter(posted_by__isnull=False).values_list("phare_id", flat=True)
        )
        for update in client.list_incident_updates(incident.phare_id):
            if (
                update.id not in claimed
                and any(
                    update.state == sent.get("state")
                    and _same_text(update.content, str(sent.get("content", "")))
                    for sent in attempt.sent_payloads
                )
                # When it was posted, not the "published at" a person may set in the past.
                and (update.created_at is None or update.created_at >= since)
            ):
                return Done(update.raw, 201, update)
        return None

    def on_done(attempt: IncidentAttempt, answer: Answer) -> None:
        if isinstance(answer, Done) and answer.value is not None:
            incident_copy.store_posted_update(incident, answer.value, actor=actor)
            # Phare's incident takes the update's state; the next refresh reads the rest.
            PhareIncident.objects.filter(pk=incident.pk).update(state=answer.value.state[:20])

    return _write_to_incident(
        actor,
        incident,
        submission_key,
        Write(Kind.UPDATE_CREATE, payload.to_json(), send, look_up, on_done=on_done),
    )


def incident_recover(
    *, actor: User, incident: PhareIncident, submission_key: uuid.UUID
) -> IncidentAttempt:
    """Mark the incident recovered, at most once per submission key; then read it back, so
    the page shows Phare's status and recovery time. After an unclear answer, the incident's
    status says whether it was done."""
    permissions.require(actor, incident.project, Capability.RESPOND)

    def send(client: PhareClient) -> Answer:
        client.recover_incident(incident.phare_id)
        return Done(None, 204)

    def look_up(client: PhareClient, attempt: IncidentAttempt) -> Answer | None:
        current = client.get_incident(incident.phare_id)
        return Done(current.raw, 200, current) if current.status == "recovered" else None

    def on_done(attempt: IncidentAttempt, answer: Answer) -> None:
        # Recovered in the copy at once (the page must not offer Confirm again), then read back
        # for Phare's own status and recovery time.
        PhareIncident.objects.filter(pk=incident.pk).update(
            status="recovered", status_rank=INCIDENT_STATUS_RANK["recovered"]
        )
        PhareIncident.objects.filter(pk=incident.pk, recovery_at__isnull=True).update(
            recovery_at=timezone.now()
        )
        _read_back(incident)

    return _write_to_incident(
        actor,
        incident,
        submission_key,
        Write(Kind.RECOVER, {}, send, look_up, on_done=on_done),
    )


def _read_back(incident: PhareIncident) -> None:
    """The incident as Phare has it after the console's own write (not a change outside)."""
    try:
        current = PhareClient(incident.project).get_incident(incident.phare_id)
    except PhareNotFound:
        incident_copy.mark_deleted(incident)
        return
    except PhareError:
        # Phare took the write; the next refresh reads what it made of it.
        raise
    incident_copy.store_incident(incident.project, current, outside=False)


def _write_to_incident(
    actor: User, incident: PhareIncident, submission_key: uuid.UUID, write: Write
) -> IncidentAttempt:
    """`write` to this incident, at most once per key, its title kept for the audit log."""
    write = replace(write, incident_id=incident.phare_id, incident_title=incident.title)
    return write_once(
        actor=actor, project=incident.project, submission_key=submission_key, write=write
    )


def _same_text(first: str, second: str) -> bool:
    """The same message, whatever line endings and spacing the browser or Phare used."""
    return " ".join(first.split()) == " ".join(second.split())


def incident_delete(
    *, actor: User, incident: PhareIncident, submission_key: uuid.UUID
) -> IncidentAttempt:
    """Delete the incident in Phare (project admins only), at most once per submission key."""
    permissions.require(actor, incident.project, Capability.MANAGE)

    def send(client: PhareClient) -> Answer:
        client.delete_incident(incident.phare_id)
        return Done(None, 204)

    def look_up(client: PhareClient, attempt: IncidentAttempt) -> Answer | None:
        try:
            client.get_incident(incident.phare_id)
        except PhareNotFound:
            return Done(None, 404)
        return None

    return _write_to_incident(
        actor,
        incident,
        submission_key,
        Write(
            Kind.DELETE,
            {},
            send,
            look_up,
            on_done=lambda attempt, answer: incident_copy.mark_deleted(incident),
        ),
    )


def incident_edit(
    *,
    actor: User,
    incident: PhareIncident,
    values: dict[str, Any],
    base: dict[str, Any],
    submission_key: uuid.UUID,
) -> IncidentAttempt:
    """Change the incident's fields, sending only those that differ from `base` (the values
    the form was rendered with), at most once per submission key.

    A new key reads the incident first: if a field changed in Phare since `base` was read,
    nothing is sent and EditConflict says what moved. Raises NothingToChange when no field
    differs. After an unclear answer, the incident's fields say whether it was done."""
    permissions.require(actor, incident.project, Capability.RESPOND)
    changes = {
        name: values[name] for name in EDITABLE_FIELDS if not same_value(values[name], base[name])
    }
    if not changes:
        raise NothingToChange()
    body = incident_edit_body(changes)
    earlier = IncidentAttempt.objects.filter(submission_key=submission_key).first()
    if earlier is None or earlier.last_payload != body:
        # A new edit, or the same form changed since an unclear answer: check what Phare has
        # now (the earlier try may have changed it) before sending anything.
        current = PhareClient(incident.project).get_incident(incident.phare_id)
        moved = [
            incident_copy.Change(name, base[name], getattr(current, name))
            for name in EDITABLE_FIELDS
            if not same_value(base[name], getattr(current, name))
        ]
        if moved:
            incident_copy.store_incident(incident.project, current)
            raise EditConflict(current, moved)

    def send(client: PhareClient) -> Answer:
        return client.edit_incident(incident.phare_id, body)

    def look_up(client: PhareClient, attempt: IncidentAttempt) -> Answer | None:
        current = client.get_incident(incident.phare_id)
        applied = any(
            all(
                same_value(_from_json(name, value), getattr(current, name))
                for name, value in sent.items()
            )
            for sent in attempt.sent_payloads
        )
        return current if applied else None

    def on_done(attempt: IncidentAttempt, answer: Answer) -> None:
        if isinstance(answer, Incident):
            incident_copy.store_incident(incident.project, answer, outside=False)

    return _write_to_incident(
        actor,
        incident,
        submission_key,
        Write(Kind.EDIT, body, send, look_up, on_done=on_done),
    )


def _from_json(name: str, value: Any) -> Any:
    if name in ("incident_at", "recovery_at") and isinstance(value, str):
        return parse_datetime(value)
    return value
