"""Laravel-style validation of the inputs the sandbox accepts.

Errors are collected per field (``{"field": ["message", ...]}``) and summarised the way
Laravel does: the first message, plus "(and N more errors)" when there are several.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Errors = dict[str, list[str]]

IMPACTS = (
    "unknown",
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "maintenance",
)
INCIDENT_FIELDS = (
    "title",
    "impact",
    "exclude_from_downtime",
    "description",
    "incident_at",
    "recovery_at",
    "monitors",
)
# ``state`` follows the timeline's updates; ``status`` says whether the incident is over.
STATES = ("unknown", "investigating", "identified", "monitoring", "resolved")
STATUSES = ("ongoing", "recovering", "recovered")
INCIDENT_UPDATE_FIELDS = ("state", "content", "published_at")
TITLE_MAX = 250
DESCRIPTION_MAX = 2000
MONITORS_MAX = 100
CONTENT_MAX = 10000
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100

_INTEGER = re.compile(r"-?\d+")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})",
)


class ValidationError(Exception):
    """Raised with every failed rule; answered as 422."""

    def __init__(self, errors: Errors, message: str | None = None) -> None:
        self.message = message or summarize(errors)
        super().__init__(self.message)
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors}


@dataclass(frozen=True)
class IncidentInput:
    title: str
    impact: str
    exclude_from_downtime: bool
    description: str | None
    incident_at: datetime | None
    recovery_at: datetime | None
    monitors: list[int]


def summarize(errors: Errors) -> str:
    messages = [message for field_messages in errors.values() for message in field_messages]
    if not messages:
        return "The given data was invalid."
    extra = len(messages) - 1
    if extra == 0:
        return messages[0]
    return f"{messages[0]} (and {extra} more error{'s' if extra > 1 else ''})"


def parse_datetime(value: object) -> datetime | None:
    """Parse an ISO 8601 date-time with an offset or ``Z``; ``None`` if it is not one."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _is_missing(value: object) -> bool:
    # Laravel's "required" rejects null, blank strings and empty arrays.
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _collector(errors: Errors) -> Callable[[str, str], None]:
    def fail(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    return fail


def _check_incident_fields(
    body: dict[str, Any],
    monitor_ids: Container[int],
    fail: Callable[[str, str], None],
    *,
    partial: bool,
    latest: datetime | None = None,
) -> dict[str, datetime | None]:
    """Check each incident field of ``body``; with ``partial``, only the fields it has. Times
    after ``latest`` (when given) are refused.

    Returns the parsed ``incident_at`` and ``recovery_at`` (``None`` when absent or null).
    """
    if "title" in body or not partial:
        title = body.get("title")
        if _is_missing(title):
            fail("title", "The title field is required.")
        elif not isinstance(title, str):
            fail("title", "The title field must be a string.")
        elif len(title) > TITLE_MAX:
            fail("title", f"The title field must not be greater than {TITLE_MAX} characters.")

    if "impact" in body or not partial:
        impact = body.get("impact")
        if _is_missing(impact):
            fail("impact", "The impact field is required.")
        elif not isinstance(impact, str) or impact not in IMPACTS:
            fail("impact", "The selected impact is invalid.")

    if "exclude_from_downtime" in body or not partial:
        exclude = body.get("exclude_from_downtime")
        if _is_missing(exclude):
            fail("exclude_from_downtime", "The exclude from downtime field is required.")
        elif not isinstance(exclude, bool):
            fail("exclude_from_downtime", "The exclude from downtime field must be true or false.")

    if "description" in body:
        description = body["description"]
        if not isinstance(description, str):
            fail("description", "The description field must be a string.")
        elif not description:
            fail("description", "The description field must be at least 1 characters.")
        elif len(description) > DESCRIPTION_MAX:
            fail(
                "description",
                f"The description field must not be greater than {DESCRIPTION_MAX} characters.",
            )

    dates: dict[str, datetime | None] = {}
    for key in ("incident_at", "recovery_at"):
        value = body.get(key)
        dates[key] = parse_datetime(value)
        if value is not None and dates[key] is None:
            fail(key, f"The {key.replace('_', ' ')} field must be a valid date.")
        moment = dates[key]
        if latest is not None and moment is not None and moment > latest:
            fail(
                key,
                f"The {key.replace('_', ' ')} field must be a date before or equal to "
                f"{latest.strftime('%Y-%m-%d %H:%M:%S')}.",
            )

    if "monitors" in body:
        monitors = body["monitors"]
        if not isinstance(monitors, list):
            fail("monitors", "The monitors field must be an array.")
        else:
            if not monitors:
                fail("monitors", "The monitors field must have at least 1 items.")
            elif len(monitors) > MONITORS_MAX:
                fail(
                    "monitors", f"The monitors field must not have more than {MONITORS_MAX} items."
                )
            for index, item in enumerate(monitors):
                if not _is_int(item) or item not in monitor_ids:
                    fail(f"monitors.{index}", f"The selected monitors.{index} is invalid.")
    return dates


def _check_choice(
    key: str, value: object, choices: tuple[str, ...], fail: Callable[[str, str], None]
) -> None:
    if _is_missing(value):
        fail(key, f"The {key} field is required.")
    elif not isinstance(value, str) or value not in choices:
        fail(key, f"The selected {key} is invalid.")


def _prohibit_others(
    body: dict[str, Any], allowed: tuple[str, ...], fail: Callable[[str, str], None]
) -> None:
    for key in body:
        if key not in allowed:
            fail(key, f"The {key} field is prohibited.")


def _known(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """``body`` without the keys not ``allowed``: Laravel's default, ``validated()`` leaves
    them out and nobody says so."""
    return {key: value for key, value in body.items() if key in allowed}


def _unique_monitors(monitors: object) -> list[int]:
    # Phare stores links in a pivot table, so repeated ids collapse into one.
    return list(dict.fromkeys(monitors)) if isinstance(monitors, list) else []


def validate_incident(
    body: dict[str, Any],
    monitor_ids: Container[int],
    *,
    incident_at_required: bool = False,
    latest: datetime | None = None,
    drop_unknown: bool = False,
) -> IncidentInput:
    """Check a create; the keywords are the readings of ``readings.Readings``."""
    errors: Errors = {}
    fail = _collector(errors)

    if drop_unknown:
        body = _known(body, INCIDENT_FIELDS)
    dates = _check_incident_fields(body, monitor_ids, fail, partial=False, latest=latest)
    incident_at, recovery_at = dates["incident_at"], dates["recovery_at"]
    if incident_at_required and _is_missing(body.get("incident_at")):
        fail("incident_at", "The incident at field is required.")
    if incident_at and recovery_at and recovery_at < incident_at:
        fail("recovery_at", "The recovery at field must be a date after or equal to incident at.")
    _prohibit_others(body, INCIDENT_FIELDS, fail)

    if errors:
        raise ValidationError(errors)
    title, impact, exclude = body["title"], body["impact"], body["exclude_from_downtime"]
    assert isinstance(title, str) and isinstance(impact, str) and isinstance(exclude, bool)
    return IncidentInput(
        title=title,
        impact=impact,
        exclude_from_downtime=exclude,
        description=body.get("description"),
        incident_at=incident_at,
        recovery_at=recovery_at,
        monitors=_unique_monitors(body.get("monitors")),
    )


def validate_incident_edit(
    body: dict[str, Any],
    monitor_ids: Container[int],
    *,
    incident_at: datetime | None,
    recovery_at: datetime | None,
    control: bool = False,
    latest: datetime | None = None,
    drop_unknown: bool = False,
) -> dict[str, Any]:
    """Check a partial edit of an incident whose dates are ``incident_at`` and ``recovery_at``.

    Returns the fields to change (dates as ``datetime``). A null ``incident_at`` is left out:
    the sandbox's incidents always have a start, as create gives them one. ``control`` also
    accepts ``status`` and ``state``, which only Phare itself changes.
    """
    errors: Errors = {}
    fail = _collector(errors)

    allowed = INCIDENT_FIELDS
    if control:
        allowed = (*INCIDENT_FIELDS, "status", "state")
    if drop_unknown:
        body = _known(body, allowed)
    dates = _check_incident_fields(body, monitor_ids, fail, partial=True, latest=latest)
    if control:
        for key, choices in (("status", STATUSES), ("state", STATES)):
            if key in body:
                _check_choice(key, body[key], choices, fail)
    new_incident_at = dates["incident_at"] or incident_at
    new_recovery_at = dates["recovery_at"] if "recovery_at" in body else recovery_at
    if new_incident_at and new_recovery_at and new_recovery_at < new_incident_at:
        if "recovery_at" in body:
            fail(
                "recovery_at",
                "The recovery at field must be a date after or equal to incident at.",
            )
        else:
            fail(
                "incident_at",
                "The incident at field must be a date before or equal to recovery at.",
            )
    _prohibit_others(body, allowed, fail)

    if errors:
        raise ValidationError(errors)
    changes = dict(body)
    if dates["incident_at"] is None:
        changes.pop("incident_at", None)
    else:
        changes["incident_at"] = dates["incident_at"]
    if "recovery_at" in body:
        changes["recovery_at"] = dates["recovery_at"]
    if "monitors" in body:
        changes["monitors"] = _unique_monitors(body["monitors"])
    return changes


@dataclass(frozen=True)
class IncidentUpdateInput:
    state: str
    content: str
    published_at: datetime | None


def validate_incident_update(
    body: dict[str, Any], *, drop_unknown: bool = False
) -> IncidentUpdateInput:
    errors: Errors = {}
    fail = _collector(errors)
    if drop_unknown:
        body = _known(body, INCIDENT_UPDATE_FIELDS)

    _check_choice("state", body.get("state"), STATES, fail)

    content = body.get("content")
    if _is_missing(content):
        fail("content", "The content field is required.")
    elif not isinstance(content, str):
        fail("content", "The content field must be a string.")
    elif len(content) > CONTENT_MAX:
        fail("content", f"The content field must not be greater than {CONTENT_MAX} characters.")

    published_at = parse_datetime(body.get("published_at"))
    if "published_at" in body and published_at is None:
        fail("published_at", "The published at field must be a valid date.")
    _prohibit_others(body, INCIDENT_UPDATE_FIELDS, fail)

    if errors:
        raise ValidationError(errors)
    assert isinstance(content, str)
    return IncidentUpdateInput(state=body["state"], content=content, published_at=published_at)


def validate_monitor_incident(
    body: dict[str, Any], monitor_ids: Container[int]
) -> tuple[int, str | None]:
    """The ``monitor_id`` and optional ``title`` of an incident Phare's monitoring opens."""
    errors: Errors = {}
    fail = _collector(errors)

    monitor_id = body.get("monitor_id")
    if _is_missing(monitor_id):
        fail("monitor_id", "The monitor id field is required.")
    elif not _is_int(monitor_id) or monitor_id not in monitor_ids:
        fail("monitor_id", "The selected monitor id is invalid.")
    if "title" in body:
        _check_incident_fields({"title": body["title"]}, monitor_ids, fail, partial=True)
    _prohibit_others(body, ("monitor_id", "title"), fail)

    if errors:
        raise ValidationError(errors)
    assert isinstance(monitor_id, int)
    return monitor_id, body.get("title")


def _int_param(query: dict[str, list[str]], name: str, errors: Errors) -> int | None:
    values = query.get(name)
    # PHP keeps the last value of a repeated scalar parameter; blank means absent.
    if not values or values[-1] == "":
        return None
    if not _INTEGER.fullmatch(values[-1]):
        errors.setdefault(name, []).append(
            f"The {name.replace('_', ' ')} field must be an integer."
        )
        return None
    return int(values[-1])


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    monitor_ids: frozenset[int]


def validate_list_query(query: dict[str, list[str]]) -> ListQuery:
    """Read ``page``, ``per_page`` and the repeatable ``monitor_id`` filter of a list call."""
    errors: Errors = {}
    page = _int_param(query, "page", errors)
    per_page = _int_param(query, "per_page", errors)
    if page is not None and page < 1:
        errors.setdefault("page", []).append("The page field must be at least 1.")
    if per_page is not None and per_page < 1:
        errors.setdefault("per_page", []).append("The per page field must be at least 1.")
    if per_page is not None and per_page > PER_PAGE_MAX:
        errors.setdefault("per_page", []).append(
            f"The per page field must not be greater than {PER_PAGE_MAX}."
        )
    monitor_ids = [value for value in query.get("monitor_id", []) if value != ""]
    if any(not _INTEGER.fullmatch(value) for value in monitor_ids):
        errors["monitor_id"] = ["The monitor id field must be an integer."]
    if errors:
        raise ValidationError(errors)
    return ListQuery(
        page=page or 1,
        per_page=per_page or PER_PAGE_DEFAULT,
        monitor_ids=frozenset(int(value) for value in monitor_ids),
    )
