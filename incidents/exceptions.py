"""The console's own errors: what a use case refuses or could not finish, for views to explain."""

from incidents import duplicates
from incidents.models import IncidentAttempt
from incidents.phare.errors import PhareError


class SubmissionAlreadyHandled(Exception):
    """The submission key was used before; `attempt` is the first submission's record, in the
    state it reached while this request waited for it."""

    def __init__(self, attempt: IncidentAttempt):
        self.attempt = attempt
        create = attempt.kind == IncidentAttempt.Kind.CREATE
        if attempt.state == IncidentAttempt.State.SENDING:
            where = "“Recently created”" if create else "the incident's page"
            message = (
                "This form is still being sent to Phare by an earlier click; nothing was sent "
                f"twice. Its result will be on {where} and in the audit log."
            )
        elif attempt.state == IncidentAttempt.State.CREATED:
            message = "This form was already sent and the incident created; nothing was sent again."
        elif attempt.state == IncidentAttempt.State.DONE:
            message = "This form was already sent and Phare did it; nothing was sent again."
        elif create:
            message = f"This form was just sent and Phare did not create it: {attempt.error}"
        else:
            message = f"This form was just sent and Phare did not do it: {attempt.error}"
        super().__init__(message)
        self.message = message


class ReconciliationFailed(PhareError):
    """Before sending a form again, the console could not read Phare's incident list, so it
    sent nothing (the first try may have created the incident). `cause` says why."""

    def __init__(self, cause: PhareError):
        super().__init__(
            "Before sending this incident again the console looks for it in Phare, and that "
            f"failed, so nothing was sent: {cause.message}",
            status=cause.status,
            body=cause.body,
        )
        self.cause = cause


class DuplicateSuspected(Exception):
    """The monitors already have an ongoing incident from the last few minutes."""

    def __init__(self, found: list[duplicates.PossibleDuplicate]):
        super().__init__(f"{len(found)} possible duplicate(s)")
        self.found = found


class NotRecorded(PhareError):
    """Phare created the incident but the console could not record it."""


class SyncAlreadyRunning(Exception):
    """Another refresh of the project's monitors holds the lease."""


class EditConflict(Exception):
    """The incident changed in Phare since the edit form was rendered: nothing was sent.
    `current` is the incident as Phare has it now, `changes` what moved since the form's
    base (services.incident_copy.Change)."""

    def __init__(self, current, changes: list):
        super().__init__(f"{len(changes)} field(s) changed in Phare")
        self.current = current
        self.changes = changes


class NothingToChange(Exception):
    """An edit whose fields all equal the incident's: nothing to send."""
