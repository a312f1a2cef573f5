"""What the console sends to Phare and what it reads back, as typed values."""

import json
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from incidents.phare.errors import (
    CREATE_INCIDENT,
    CREATE_INCIDENT_UPDATE,
    PhareBadResponse,
    PhareOutcomeUnknown,
    WriteKind,
)

# The create contract uses snake_case; some rendered docs show camelCase. Accept both on read.
IMPACT_SPELLINGS = {
    "degradedPerformance": "degraded_performance",
    "partialOutage": "partial_outage",
    "majorOutage": "major_outage",
}


@dataclass(frozen=True)
class IncidentPayload:
    """The body of POST /uptime/incidents, exactly as the create contract describes it."""

    impact: str
    title: str
    exclude_from_downtime: bool
    description: str = ""
    incident_at: datetime | None = None
    recovery_at: datetime | None = None
    monitors: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Required keys always; optional keys only when given (no nulls, no empty list)."""
        body: dict[str, Any] = {
            "impact": self.impact,
            "title": self.title,
            "exclude_from_downtime": self.exclude_from_downtime,
        }
        if self.description:
            body["description"] = self.description
        if self.incident_at is not None:
            body["incident_at"] = _iso_utc(self.incident_at)
        if self.recovery_at is not None:
            body["recovery_at"] = _iso_utc(self.recovery_at)
        if self.monitors:
            body["monitors"] = list(self.monitors)
        return body


# The shell variable a shown request names instead of the token.
TOKEN_VARIABLE = "PHARE_TOKEN"  # noqa: S105 (a name, not a secret)


@dataclass(frozen=True)
class RequestPreview:
    """A request as the console would send it, for a person to read or run: the token is the
    shell variable TOKEN_VARIABLE, never its value. `problem` says why the console would send
    nothing (an organization key that names no project)."""

    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    problem: str = ""

    def body_text(self) -> str:
        """The body pretty-printed (the same JSON as sent, laid out for reading)."""
        return json.dumps(self.body, indent=2, ensure_ascii=False)

    def curl(self) -> str:
        """The equivalent curl command for a POSIX shell, the body as the bytes sent."""
        sent = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        lines = [f"curl -X {self.method} {shlex.quote(self.url)}"]
        lines += [f"-H {_shell_word(f'{name}: {value}')}" for name, value in self.headers.items()]
        lines.append(f"--data-raw {shlex.quote(sent)}")
        return " \\\n  ".join(lines)


def _shell_word(text: str) -> str:
    """`text` as one word for a POSIX shell, with $TOKEN_VARIABLE in it left to expand."""
    reference = f"${TOKEN_VARIABLE}"
    if reference not in text:
        return shlex.quote(text)
    if not any(character in text.replace(reference, "") for character in '"\\$`!'):
        return f'"{text}"'
    return f'"{reference}"'.join(shlex.quote(part) for part in text.split(reference))


# The fields an edit may send, in the order the console writes them.
EDITABLE_FIELDS = (
    "impact",
    "title",
    "description",
    "exclude_from_downtime",
    "incident_at",
    "recovery_at",
    "monitors",
)


def incident_edit_body(changes: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /uptime/incidents/{id} from the changed fields, keyed like the contract.

    Only the keys given are sent. Times go out as UTC with a "Z"; None stays a JSON null (a
    null `recovery_at` clears it). A key the edit contract does not know raises ValueError."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not an editable incident field: {', '.join(sorted(unknown))}.")
    body: dict[str, Any] = {}
    for key, value in changes.items():
        if isinstance(value, datetime):
            value = _iso_utc(value)
        elif isinstance(value, list | tuple):
            value = list(value)
        body[key] = value
    return body


@dataclass(frozen=True)
class IncidentUpdatePayload:
    """The body of POST /uptime/incidents/{id}/updates: one entry on the incident's timeline."""

    state: str
    content: str
    published_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"state": self.state, "content": self.content}
        if self.published_at is not None:
            body["published_at"] = _iso_utc(self.published_at)
        return body


@dataclass(frozen=True)
class Incident:
    id: int
    slug: str
    title: str
    impact: str
    status: str
    state: str
    monitors: list[int]
    incident_at: datetime | None
    recovery_at: datetime | None
    created_at: datetime | None
    type: str = ""
    """manual or monitor (opened by Phare's monitoring)."""
    description: str = ""
    exclude_from_downtime: bool = False
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Phare's answer exactly as received, for the audit log."""


@dataclass(frozen=True)
class IncidentPage:
    """One page of GET /uptime/incidents; `has_next` when Phare links a next page."""

    items: list[Incident]
    has_next: bool


@dataclass(frozen=True)
class IncidentUpdate:
    """An entry on an incident's timeline. `creator_type` is user or api_key, and both creator
    fields are empty when Phare did not say who wrote it."""

    id: int
    incident_id: int | None
    state: str
    content: str
    published_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    creator_type: str
    creator_label: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Phare's answer exactly as received, for the audit log."""


@dataclass(frozen=True)
class MonitorSummary:
    id: int
    name: str
    status: str
    paused: bool
    protocol: str
    target: str
    last_checked_at: datetime | None


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Phare times must be timezone-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    """A time from Phare, in UTC; None when absent or unreadable. A time without a zone (a
    Laravel model without date casts answers "2026-11-28 10:00:00") is read as UTC."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


MAX_ID = 2**63 - 1  # Phare's ids are stored in signed 64-bit columns (ours too)
SLUG_MAX = 100  # the console's columns for Phare's slug (IncidentAttempt, AuditEntry, copy)


def _id(value: Any) -> int:
    """A Phare id: a positive 64-bit integer, as a JSON number or a string of ASCII digits.
    Anything else (a boolean, a float such as 1e400, 2**64, "١٢") raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        raise ValueError("not an id")
    if not 1 <= number <= MAX_ID:
        raise ValueError("id out of range")
    return number


def _ids(value: Any) -> list[int]:
    """A list of ids; None or absent is an empty list, anything but a list is not one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("not a list of ids")
    return [_id(item) for item in value]


def _required_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _optional_text(value: Any, limit: int | None = None) -> str:
    """A text Phare may leave out: anything but a string reads as empty."""
    text = value if isinstance(value, str) else ""
    return text[:limit] if limit is not None else text


def _scalar_text(value: Any) -> str:
    """A URL, host or port as text: a string or a number; anything else reads as empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def parse_incident(
    body: Any, *, write: bool, status: int, write_kind: WriteKind = CREATE_INCIDENT
) -> Incident:
    """An incident from Phare's answer. Older documentation shows a single `uptime_monitor_id`
    instead of the `monitors` list: both are read. A body that does not describe an incident is
    a PhareBadResponse, or after a write a PhareOutcomeUnknown worded by `write_kind`."""
    try:
        if not isinstance(body, dict):
            raise TypeError("not an object")
        if "monitors" not in body and body.get("uptime_monitor_id"):
            monitors = [_id(body["uptime_monitor_id"])]
        else:
            monitors = _ids(body.get("monitors"))
        impact = _required_text(body["impact"])
        title = body["title"]
        return Incident(
            id=_id(body["id"]),
            slug=_optional_text(body.get("slug"), SLUG_MAX),
            title="" if title is None else _required_text(title),
            impact=IMPACT_SPELLINGS.get(impact, impact),
            status=_optional_text(body.get("status")),
            state=_optional_text(body.get("state")),
            monitors=monitors,
            incident_at=_parse_time(body.get("incident_at")),
            recovery_at=_parse_time(body.get("recovery_at")),
            created_at=_parse_time(body.get("created_at")),
            type=_optional_text(body.get("type")),
            description=_optional_text(body.get("description")),
            exclude_from_downtime=body.get("exclude_from_downtime") is True,
            updated_at=_parse_time(body.get("updated_at")),
            raw=body,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        error_class = PhareOutcomeUnknown if write else PhareBadResponse
        raise error_class(
            "Phare's answer did not describe an incident as expected."
            + (f" {write_kind.probably}" if write else ""),
            status=status,
            body=body,
        ) from None


def parse_incident_update(
    body: Any, *, write: bool, status: int, write_kind: WriteKind = CREATE_INCIDENT_UPDATE
) -> IncidentUpdate:
    """An incident update from Phare's answer; `id`, `state` and `content` are required. A body
    that does not describe one is a PhareBadResponse, or after a write a PhareOutcomeUnknown."""
    try:
        if not isinstance(body, dict):
            raise TypeError("not an object")
        state, content = _required_text(body["state"]), _required_text(body["content"])
        incident_id = body.get("incident_id")
        creator = body.get("creator")
        if not isinstance(creator, dict):
            creator = {}
        return IncidentUpdate(
            id=_id(body["id"]),
            incident_id=_id(incident_id) if incident_id is not None else None,
            state=state,
            content=content,
            published_at=_parse_time(body.get("published_at")),
            created_at=_parse_time(body.get("created_at")),
            updated_at=_parse_time(body.get("updated_at")),
            creator_type=_optional_text(creator.get("type")),
            creator_label=_optional_text(creator.get("label")),
            raw=body,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        error_class = PhareOutcomeUnknown if write else PhareBadResponse
        raise error_class(
            "Phare's answer did not describe an incident update as expected."
            + (f" {write_kind.probably}" if write else ""),
            status=status,
            body=body,
        ) from None


def parse_monitor(item: Any) -> MonitorSummary:
    """A monitor from Phare's list; an item that does not describe one is a PhareBadResponse.
    Texts are clipped to the console's columns."""
    try:
        if not isinstance(item, dict):
            raise TypeError("not an object")
        request = item.get("request")
        if not isinstance(request, dict):
            request = {}
        if item.get("protocol") == "tcp" or "host" in request:
            host, port = _scalar_text(request.get("host")), _scalar_text(request.get("port"))
            target = f"{host}:{port}".strip(":")
        else:
            target = _scalar_text(request.get("url"))
        return MonitorSummary(
            id=_id(item["id"]),
            name=_required_text(item["name"])[:255],
            status=_optional_text(item.get("status"), 20),
            paused=item.get("paused") is True,
            protocol=_optional_text(item.get("protocol"), 10),
            target=target[:2048],
            last_checked_at=_parse_time(item.get("last_checked_at")),
        )
    except (KeyError, TypeError, ValueError):
        raise PhareBadResponse(
            "Phare's monitor list held an item that does not describe a monitor.",
            status=200,
            body=item,
        ) from None


def same_value(first: Any, second: Any) -> bool:
    """Equal as Phare would store them: no description is an empty one, monitors in any
    order, times to the second."""
    if isinstance(first, list) or isinstance(second, list):
        return sorted(first or []) == sorted(second or [])
    if isinstance(first, datetime) and isinstance(second, datetime):
        return first.replace(microsecond=0) == second.replace(microsecond=0)
    if first in (None, "") and second in (None, ""):
        return True
    return first == second
