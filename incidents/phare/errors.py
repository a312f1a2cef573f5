"""The PhareError hierarchy: every failure talking to Phare, as something the UI can explain.

Docs: https://docs.phare.io/api-reference/introduction (errors).
"""

from dataclasses import dataclass
from typing import Any


class PhareError(Exception):
    """Base of every failure talking to Phare; `message` is safe to show to the user."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class PhareValidationError(PhareError):
    """422: Phare rejected the input; `field_errors` maps Phare's keys to messages."""

    def __init__(self, message: str, *, field_errors: dict[str, list[str]], body: Any = None):
        super().__init__(message, status=422, body=body)
        self.field_errors = field_errors


class PhareAuthError(PhareError):
    """401 (token rejected) or 403 (the token lacks a permission)."""


class PhareNotFound(PhareError):
    """404."""


class PhareRateLimited(PhareError):
    """Over Phare's 100 calls a minute: Phare's 429 (`status` 429), or the console holding back
    before sending anything (`status` None). `retry_after` in seconds when known."""

    def __init__(
        self, message: str, *, retry_after: int | None, status: int | None = 429, body: Any = None
    ):
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class PhareUnavailable(PhareError):
    """Phare could not be reached or failed (5xx); nothing was created."""


class PhareOutcomeUnknown(PhareError):
    """A write may have reached Phare but we cannot tell whether it took effect."""


class PhareBadResponse(PhareError):
    """Phare answered, but not with the JSON the contract describes."""


@dataclass(frozen=True)
class WriteKind:
    """What to tell people when a write may have reached Phare but its outcome is unknown:
    the sentences differ by action, the mapping of failures (in `transport`) does not."""

    may_have: str
    """After a timeout, a connection broken after sending, or a gateway's 502/504."""
    probably: str
    """After a success whose body could not be read."""
    unexpected: str
    """After a failure of the console itself while sending."""


CREATE_INCIDENT = WriteKind(
    may_have="The incident may have been created: check Phare's incident list before trying again.",
    probably="The incident was probably created: check Phare's incident list.",
    unexpected="Check Phare's incident list before trying again, and tell the console's admins.",
)


def _checked_before_sending_again(may_have: str, probably: str) -> WriteKind:
    checks = ": the console checks Phare before sending it again."
    return WriteKind(
        may_have=may_have + checks,
        probably=probably + checks,
        unexpected=may_have + checks + " Tell the console's admins.",
    )


EDIT_INCIDENT = _checked_before_sending_again(
    "The change may have been made", "The change was probably made"
)
RECOVER_INCIDENT = _checked_before_sending_again(
    "The incident may have been marked recovered", "The incident was probably marked recovered"
)
DELETE_INCIDENT = _checked_before_sending_again(
    "The incident may have been deleted", "The incident was probably deleted"
)
CREATE_INCIDENT_UPDATE = _checked_before_sending_again(
    "The update may have been posted", "The update was probably posted"
)

INCIDENT_GONE = "This incident no longer exists in Phare: it has been deleted there."


def message_in(body: Any, default: str) -> str:
    """Phare's own `message` from an error body, or `default`."""
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return default


def field_errors_from(body: Any) -> dict[str, list[str]]:
    """Phare's 422 `errors` object as field -> messages, whatever shape it came in."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    result: dict[str, list[str]] = {}
    for key, messages in errors.items():
        if isinstance(messages, str):
            messages = [messages]
        if isinstance(messages, list):
            result[str(key)] = [str(message) for message in messages]
    return result
