"""What the console sends to Phare and what it reads back, as typed values."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from incidents.phare.errors import PhareBadResponse, PhareOutcomeUnknown

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
    if not value or not isinstance(value, str):
        return None
    return parse_datetime(value)


def parse_incident(body: Any, *, write: bool, status: int) -> Incident:
    try:
        impact = body["impact"]
        return Incident(
            id=int(body["id"]),
            slug=str(body.get("slug") or ""),
            title=str(body["title"]),
            impact=IMPACT_SPELLINGS.get(impact, impact),
            status=str(body.get("status") or ""),
            state=str(body.get("state") or ""),
            monitors=[int(monitor) for monitor in body.get("monitors") or []],
            incident_at=_parse_time(body.get("incident_at")),
            recovery_at=_parse_time(body.get("recovery_at")),
            created_at=_parse_time(body.get("created_at")),
            raw=body,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        error_class = PhareOutcomeUnknown if write else PhareBadResponse
        raise error_class(
            "Phare's answer did not describe an incident as expected."
            + (" The incident was probably created: check Phare's incident list." if write else ""),
            status=status,
            body=body,
        ) from None


def parse_listed_incident(item: Any) -> Incident | None:
    """An incident from Phare's list, or None. Older documentation shows a single
    `uptime_monitor_id` instead of the `monitors` list: both are read."""
    if isinstance(item, dict) and "monitors" not in item and item.get("uptime_monitor_id"):
        item = {**item, "monitors": [item["uptime_monitor_id"]]}
    try:
        return parse_incident(item, write=False, status=200)
    except PhareBadResponse:
        return None


def parse_monitor(item: dict[str, Any]) -> MonitorSummary:
    request = item.get("request") or {}
    if item.get("protocol") == "tcp" or "host" in request:
        target = f"{request.get('host', '')}:{request.get('port', '')}".strip(":")
    else:
        target = str(request.get("url") or "")
    return MonitorSummary(
        id=int(item["id"]),
        name=str(item["name"]),
        status=str(item.get("status") or ""),
        paused=bool(item.get("paused")),
        protocol=str(item.get("protocol") or ""),
        target=target,
        last_checked_at=_parse_time(item.get("last_checked_at")),
    )
