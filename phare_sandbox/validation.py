"""Laravel-style validation of the inputs the sandbox accepts.

Errors are collected per field (``{"field": ["message", ...]}``) and summarised the way
Laravel does: the first message, plus "(and N more errors)" when there are several.
"""

from __future__ import annotations

import re
from collections.abc import Container
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
TITLE_MAX = 250
DESCRIPTION_MAX = 2000
MONITORS_MAX = 100
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100

_INTEGER = re.compile(r"-?\d+")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})",
)


class ValidationError(Exception):
    """Raised with every failed rule; answered as 422."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(summarize(errors))
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        return {"message": summarize(self.errors), "errors": self.errors}


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


def validate_incident(body: dict[str, Any], monitor_ids: Container[int]) -> IncidentInput:
    errors: Errors = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    title = body.get("title")
    if _is_missing(title):
        fail("title", "The title field is required.")
    elif not isinstance(title, str):
        fail("title", "The title field must be a string.")
    elif len(title) > TITLE_MAX:
        fail("title", f"The title field must not be greater than {TITLE_MAX} characters.")

    impact = body.get("impact")
    if _is_missing(impact):
        fail("impact", "The impact field is required.")
    elif not isinstance(impact, str) or impact not in IMPACTS:
        fail("impact", "The selected impact is invalid.")

    exclude = body.get("exclude_from_downtime")
    if _is_missing(exclude):
        fail("exclude_from_downtime", "The exclude from downtime field is required.")
    elif not isinstance(exclude, bool):
        fail("exclude_from_downtime", "The exclude from downtime field must be true or false.")

    description = body.get("description")
    if "description" in body:
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
    incident_at, recovery_at = dates["incident_at"], dates["recovery_at"]
    if incident_at and recovery_at and recovery_at < incident_at:
        fail("recovery_at", "The recovery at field must be a date after or equal to incident at.")

    monitors = body.get("monitors")
    if "monitors" in body:
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

    for key in body:
        if key not in INCIDENT_FIELDS:
            fail(key, f"The {key} field is prohibited.")

    if errors:
        raise ValidationError(errors)
    assert isinstance(title, str) and isinstance(impact, str) and isinstance(exclude, bool)
    return IncidentInput(
        title=title,
        impact=impact,
        exclude_from_downtime=exclude,
        description=description,
        incident_at=incident_at,
        recovery_at=recovery_at,
        # Phare stores links in a pivot table, so repeated ids collapse into one.
        monitors=list(dict.fromkeys(monitors)) if isinstance(monitors, list) else [],
    )


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
