"""The console's use cases, one module per area; imported from here so call sites never change
when a module splits (`services.incident_create`)."""

from incidents.exceptions import (
    DuplicateSuspected,
    EditConflict,
    NothingToChange,
    NotRecorded,
    ReconciliationFailed,
    SubmissionAlreadyHandled,
    SyncAlreadyRunning,
)
from incidents.services.attempts import attempt_reconcile
from incidents.services.incident_templates import (
    TEMPLATE_FIELDS,
    incident_template_change,
    incident_template_create,
    incident_template_delete,
)
from incidents.services.incidents import (
    incident_create,
    incident_delete,
    incident_edit,
    incident_recover,
    incident_update_create,
)
from incidents.services.memberships import membership_remove, membership_set
from incidents.services.monitors import (
    RefreshRequested,
    SyncResult,
    monitor_refresh,
    monitor_sync,
    monitor_sync_if_stale,
    monitor_sync_start,
)
from incidents.services.projects import (
    COMMAND_LINE_ACTOR,
    PROJECT_SETTINGS,
    ConnectionCheck,
    project_change,
    project_clear_token,
    project_connection_check,
    project_create,
    project_provision,
    project_set_token,
)

__all__ = [
    "COMMAND_LINE_ACTOR",
    "ConnectionCheck",
    "DuplicateSuspected",
    "EditConflict",
    "NothingToChange",
    "NotRecorded",
    "ReconciliationFailed",
    "SubmissionAlreadyHandled",
    "SyncAlreadyRunning",
    "SyncResult",
    "project_connection_check",
    "incident_create",
    "incident_delete",
    "incident_edit",
    "incident_recover",
    "incident_update_create",
    "TEMPLATE_FIELDS",
    "incident_template_change",
    "incident_template_create",
    "incident_template_delete",
    "RefreshRequested",
    "monitor_refresh",
    "monitor_sync",
    "monitor_sync_if_stale",
    "monitor_sync_start",
    "membership_remove",
    "membership_set",
    "PROJECT_SETTINGS",
    "project_change",
    "project_clear_token",
    "project_create",
    "project_provision",
    "project_set_token",
    "attempt_reconcile",
]
