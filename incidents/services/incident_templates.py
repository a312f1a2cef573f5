"""Incident templates: ready-made incidents that a project's admins keep, so that declaring one
takes a press. Every write checks that the actor manages the project (superusers too) and is
audited (incident_template.saved / incident_template.deleted, with the values before and
after)."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents import permissions
from incidents.models import AuditEntry, IncidentTemplate, PhareProject
from incidents.permissions import Capability, User
from incidents.services.projects import record_project_event

# What a template holds, and what its audit entries record.
TEMPLATE_FIELDS = (
    "name",
    "impact",
    "title",
    "description",
    "monitors",
    "exclude_from_downtime",
)
DUPLICATE_NAME = "This project already has a template with this name."


def _check_fields(values: Mapping[str, Any]) -> None:
    if unknown := set(values) - set(TEMPLATE_FIELDS):
        raise ValueError(f"Not a template field: {', '.join(sorted(unknown))}.")


def _save(template: IncidentTemplate) -> None:
    """Save inside the caller's transaction; a name taken meanwhile (two admins at once) is
    the same refusal as one taken before."""
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise ValidationError({"name": DUPLICATE_NAME}) from None


def incident_template_create(
    *, actor: User, project: PhareProject, values: Mapping[str, Any]
) -> IncidentTemplate:
    """A new template of `project` with `values` (names from TEMPLATE_FIELDS). The project's
    admins only. Raises ValidationError for values the model refuses (a name taken, a monitor
    not in the project's list, …)."""
    permissions.require(actor, project, Capability.MANAGE)
    _check_fields(values)
    template = IncidentTemplate(project=project, **values)
    template.full_clean()
    with transaction.atomic():
        _save(template)
        record_project_event(
            project,
            actor=actor,
            action=AuditEntry.Action.INCIDENT_TEMPLATE_SAVED,
            payload={"created": True, "before": None, "after": template.values()},
        )
    return template


def incident_template_change(
    *, actor: User, template: IncidentTemplate, changes: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Set the template's fields to `changes`. Returns what really changed, {name: (old,
    new)}, the old values read from the database; a change is one audit entry with both. The
    project's admins only. Raises ValidationError as incident_template_create does."""
    project = template.project
    permissions.require(actor, project, Capability.MANAGE)
    _check_fields(changes)
    with transaction.atomic():
        stored = IncidentTemplate.objects.select_for_update().get(pk=template.pk)
        before = stored.values()
        for name, value in changes.items():
            setattr(stored, name, value)
        stored.full_clean()
        after = stored.values()
        changed = {
            name: (before[name], after[name]) for name in after if before[name] != after[name]
        }
        if not changed:
            return {}
        _save(stored)
        record_project_event(
            project,
            actor=actor,
            action=AuditEntry.Action.INCIDENT_TEMPLATE_SAVED,
            payload={
                "template": stored.name,
                "before": {name: old for name, (old, _) in changed.items()},
                "after": {name: new for name, (_, new) in changed.items()},
            },
        )
    for name in TEMPLATE_FIELDS:
        setattr(template, name, getattr(stored, name))
    template.updated_at = stored.updated_at
    return changed


def incident_template_delete(*, actor: User, template: IncidentTemplate) -> None:
    """Delete the template (the project's admins only), recording what it held. Incidents
    created from it keep its name in their audit entries."""
    project = template.project
    permissions.require(actor, project, Capability.MANAGE)
    with transaction.atomic():
        stored = IncidentTemplate.objects.select_for_update().filter(pk=template.pk).first()
        if stored is None:
            return  # deleted meanwhile, by another admin: already as wanted
        values = stored.values()
        stored.delete()
        record_project_event(
            project,
            actor=actor,
            action=AuditEntry.Action.INCIDENT_TEMPLATE_DELETED,
            payload={"template": values["name"], "before": values},
        )
