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
from incidents.services.incidents import (
    incident_create,
    incident_delete,
    incident_edit,
    incident_recover,
    incident_update_create,
)
from incidents.services.monitors import (
    SyncResult,
    monitor_sync,
    monitor_sync_if_stale,
    monitor_sync_start,
)
from incidents.services.projects import (
    COMMAND_LINE_ACTOR,
    ConnectionCheck,
    project_clear_token,
    project_connection_check,
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
    "monitor_sync",
    "monitor_sync_if_stale",
    "monitor_sync_start",
    "project_clear_token",
    "project_provision",
    "project_set_token",
    "attempt_reconcile",
]
