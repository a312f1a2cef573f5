"""Everything the sandbox knows: tokens, monitors, incidents, rate-limit window and faults."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .readings import Readings
from .seed import build_monitors, format_timestamp
from .validation import (
    ValidationError,
    parse_datetime,
    validate_incident,
    validate_incident_edit,
    validate_incident_update,
    validate_monitor_incident,
)

RATE_LIMIT_WINDOW_S = 60.0
FAULT_ROUTES = frozenset(
    {
        "any",
        "root",
        "list_monitors",
        "get_monitor",
        "list_incidents",
        "create_incident",
        "get_incident",
        "edit_incident",
        "delete_incident",
        "recover_incident",
        "list_incident_updates",
        "create_incident_update",
    }
)


@dataclass(frozen=True)
class TokenInfo:
    token: str
    organization: bool = False
    read_only: bool = False


# What a fault does to the next requests of its route. "respond" answers ``status`` and
# ``body`` instead of doing the work; the others do the work (an incident is created), then:
FAULT_ACTIONS = frozenset(
    {
        "respond",
        "drop",  # close the connection without doing the work or answering
        "process_then_drop",  # close the connection without answering
        "process_then_truncate",  # answer with half the body (Content-Length of the whole)
        "process_then_delay",  # answer after ``delay_ms`` (to outlast the client's timeout)
    }
)


@dataclass
class Fault:
    """Apply ``action`` to the next ``count`` requests to ``route``, once ``after`` of them
    have been answered normally (to fail a read part-way). ``delay_ms`` waits before any
    answer; ``retry_after`` adds that header to a "respond" answer."""

    route: str = "any"
    count: int = 1
    status: int = 503
    body: str | None = None
    delay_ms: int = 0
    retry_after: int | None = None
    after: int = 0
    action: str = "respond"

    def __post_init__(self) -> None:
        if self.route not in FAULT_ROUTES:
            raise ValueError(f"route must be one of: {', '.join(sorted(FAULT_ROUTES))}")
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of: {', '.join(sorted(FAULT_ACTIONS))}")
        if not _is_int(self.count) or self.count < 1:
            raise ValueError("count must be an integer >= 1")
        if not _is_int(self.status) or not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.body is not None and not isinstance(self.body, str):
            raise ValueError("body must be a string")
        if not _is_int(self.delay_ms) or self.delay_ms < 0:
            raise ValueError("delay_ms must be an integer >= 0")
        if self.retry_after is not None and (not _is_int(self.retry_after) or self.retry_after < 0):
            raise ValueError("retry_after must be an integer >= 0")
        if not _is_int(self.after) or self.after < 0:
            raise ValueError("after must be an integer >= 0")


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


NO_IDS = {"incident": 0, "update": 0}


def read_issued_ids(path: Path) -> dict[str, int]:
    """The highest ids issued so far, from ``path`` (none when it does not exist yet);
    ``ValueError`` naming the file when it holds something else."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return dict(NO_IDS)
    try:
        data = json.loads(text)
        ids = {kind: data[kind] for kind in NO_IDS}
    except (ValueError, TypeError, KeyError):
        ids = {}
    if not ids or not all(_is_int(value) and value >= 0 for value in ids.values()):
        raise ValueError(
            f"{path} does not hold the sandbox's ids "
            '(like {"incident": 12, "update": 30}); delete it to number from 1 again.'
        )
    return ids


def write_issued_ids(path: Path, ids: dict[str, int]) -> None:
    """Write ``ids`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(ids) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class SandboxState:
    """Thread-safe in-memory state of one Phare organization with a single project."""

    def __init__(
        self,
        token: str = "sandbox-token",  # noqa: S107 - a fake token for a local fake API
        monitor_count: int = 36,
        latency_ms: int = 0,
        rate_limit: int | None = 100,
        state_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """With ``state_file``, the highest incident and update ids ever issued are kept in
        that file and read back at start: ids and slugs go on after a restart or a reset
        (``make run``). Without it, every start and reset numbers from 1 again (the tests).
        ``OSError`` or ``ValueError`` when the file exists but cannot be read."""
        if monitor_count < 0:
            raise ValueError("monitor_count must be >= 0")
        self.lock = threading.RLock()
        self.project_id = 1
        self.project_slug = "demo-project"
        self.monitor_count = monitor_count
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.rate_limit_window_s = RATE_LIMIT_WINDOW_S
        self.readings = Readings()
        self.tokens: dict[str, TokenInfo] = {}
        self.monitors: dict[int, dict[str, Any]] = {}
        # Stored dicts are never changed in place: an edit stores a new dict, so an answer
        # being serialised outside the lock never sees half an edit.
        self.incidents: list[dict[str, Any]] = []
        self.incident_updates: list[dict[str, Any]] = []
        self.create_requests: list[Any] = []
        self.writes: list[dict[str, Any]] = []  # {"route", "id", "body"} of each API write
        self.request_log: list[str] = []  # "METHOD /path?query" of every API request
        self.tokens_seen: set[str] = set()  # known tokens that reached the API
        self.faults: list[Fault] = []
        self._calls: deque[float] = deque()
        self.state_file = Path(state_file) if state_file is not None else None
        self._kept_ids = read_issued_ids(self.state_file) if self.state_file else dict(NO_IDS)
        self._last_ids = dict(self._kept_ids)
        self.add_token(token)
        self.reset()

    # -- configuration -------------------------------------------------------------------

    def add_token(
        self, token: str, *, organization: bool = False, read_only: bool = False
    ) -> TokenInfo:
        if not token:
            raise ValueError("token must not be empty")
        info = TokenInfo(token, organization=organization, read_only=read_only)
        with self.lock:
            self.tokens[token] = info
        return info

    def reset(self) -> None:
        """Back to the seeded monitors and the default readings; forget incidents and their
        updates, requests, rate-limit calls and faults."""
        now = _now()
        # Phare reports last checks with a 30 s accuracy.
        checked_at = now.replace(second=now.second // 30 * 30)
        monitors = build_monitors(self.monitor_count, self.project_id, checked_at)
        with self.lock:
            self.monitors = monitors
            self.incidents.clear()
            self.incident_updates.clear()
            self.create_requests.clear()
            self.writes.clear()
            self.request_log.clear()
            self.tokens_seen.clear()
            self.faults.clear()
            self._calls.clear()
            self._last_ids = dict(self._kept_ids)
            self.readings = Readings()

    def configure(self, **changes: Any) -> Readings:
        """Answer as another reading of the documentation would (see ``Readings``); raises
        ``ValueError`` for an unknown name or value."""
        unknown = sorted(set(changes) - set(Readings.names()))
        if unknown:
            raise ValueError(f"Unknown settings: {', '.join(unknown)}.")
        with self.lock:
            self.readings = replace(self.readings, **changes)
            return self.readings

    def delete_monitor(self, monitor_id: int) -> bool:
        with self.lock:
            return self.monitors.pop(monitor_id, None) is not None

    def add_fault(
        self,
        route: str = "any",
        count: int = 1,
        status: int = 503,
        body: str | None = None,
        delay_ms: int = 0,
        retry_after: int | None = None,
        after: int = 0,
        action: str = "respond",
    ) -> Fault:
        fault = Fault(route, count, status, body, delay_ms, retry_after, after, action)
        with self.lock:
            self.faults.append(fault)
        return fault

    # -- request plumbing ----------------------------------------------------------------

    def matches_project(self, project_id: str | None, project_slug: str | None) -> bool:
        if project_id is not None and project_id.strip() != str(self.project_id):
            return False
        return project_slug is None or project_slug.strip() == self.project_slug

    def hit_rate_limit(self) -> RateLimitResult | None:
        """Count one call against the organization's budget; ``None`` when unlimited."""
        limit = self.rate_limit
        if limit is None:
            return None
        now = time.monotonic()
        window = self.rate_limit_window_s
        with self.lock:
            while self._calls and self._calls[0] <= now - window:
                self._calls.popleft()
            if len(self._calls) >= limit:
                wait = self._calls[0] + window - now
                if self.readings.retry_after_rounded_down:
                    return RateLimitResult(False, limit, 0, max(0, math.floor(wait)))
                return RateLimitResult(False, limit, 0, max(1, math.ceil(wait)))
            self._calls.append(now)
            return RateLimitResult(True, limit, limit - len(self._calls), 0)

    def take_fault(self, route: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.route in (route, "any"):
                    if fault.after:
                        fault.after -= 1
                        return None
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def record_create_request(self, body: Any) -> None:
        with self.lock:
            self.create_requests.append(body)

    def record_write(self, route: str, resource_id: int | None, body: Any) -> None:
        with self.lock:
            self.writes.append({"route": route, "id": resource_id, "body": body})

    # -- resources -----------------------------------------------------------------------

    def monitor_page(self, page: int, per_page: int) -> tuple[list[dict[str, Any]], bool]:
        """Monitors of one page ordered by id, and whether a later page has any."""
        start = (page - 1) * per_page
        with self.lock:
            ids = sorted(self.monitors)[start : start + per_page + 1]
            items = [self.monitors[monitor_id] for monitor_id in ids[:per_page]]
        return items, len(ids) > per_page

    def get_monitor(self, monitor_id: int) -> dict[str, Any] | None:
        with self.lock:
            return self.monitors.get(monitor_id)

    def incident_page(
        self, page: int, per_page: int, monitor_ids: frozenset[int] = frozenset()
    ) -> tuple[list[dict[str, Any]], bool]:
        """Incidents newest first (oldest first with that reading), optionally only those
        linked to any of ``monitor_ids`` (unless that reading ignores the filter)."""
        start = (page - 1) * per_page
        with self.lock:
            if self.readings.monitor_filter_ignored:
                monitor_ids = frozenset()
            ordered = self.incidents if self.readings.oldest_first else reversed(self.incidents)
            matching = [
                incident
                for incident in ordered
                if not monitor_ids or monitor_ids.intersection(incident["monitors"])
            ]
        window = matching[start : start + per_page + 1]
        return window[:per_page], len(window) > per_page

    def get_incident(self, incident_id: int) -> dict[str, Any] | None:
        with self.lock:
            return next((i for i in self.incidents if i["id"] == incident_id), None)

    def _incident_index(self, incident_id: int) -> int | None:
        return next((n for n, i in enumerate(self.incidents) if i["id"] == incident_id), None)

    def _store_incident(self, title: str, impact: str, **fields: Any) -> dict[str, Any]:
        incident_id = self._issue_id("incident")
        now = format_timestamp(_now())
        incident = {
            "id": incident_id,
            "project_id": self.project_id,
            "type": "manual",
            "slug": f"DEMO-{incident_id}",
            "state": "investigating",
            "status": "ongoing",
            "impact": impact,
            "title": title,
            "description": None,
            "exclude_from_downtime": False,
            "incident_at": now,
            "recovery_at": None,
            "monitors": [],
            **fields,
            "created_at": now,
            "updated_at": now,
        }
        self.incidents.append(incident)
        return incident

    def create_incident(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate ``body`` like Phare and store the incident; raises ``ValidationError``."""
        with self.lock:
            data = validate_incident(
                body,
                self.monitors,
                incident_at_required=self.readings.incident_at_required,
                latest=self._latest_time(),
                drop_unknown=self.readings.unknown_keys_dropped,
            )
            fields: dict[str, Any] = {
                "status": "recovered" if data.recovery_at else "ongoing",
                "impact": data.impact,
                "title": data.title,
                "description": data.description,
                "exclude_from_downtime": data.exclude_from_downtime,
                "recovery_at": format_timestamp(data.recovery_at) if data.recovery_at else None,
                "monitors": data.monitors,
            }
            if data.incident_at:
                fields["incident_at"] = format_timestamp(data.incident_at)
            return self._store_incident(**fields)

    def edit_incident(
        self, incident_id: int, body: dict[str, Any], *, control: bool = False
    ) -> dict[str, Any] | None:
        """Apply a partial edit; ``None`` for an unknown incident, ``ValidationError`` if
        invalid. ``control`` is an edit made in Phare itself (status and state allowed)."""
        with self.lock:
            index = self._incident_index(incident_id)
            if index is None:
                return None
            current = self.incidents[index]
            changes = validate_incident_edit(
                body,
                self.monitors,
                incident_at=parse_datetime(current["incident_at"]),
                recovery_at=parse_datetime(current["recovery_at"]),
                control=control,
                latest=None if control else self._latest_time(),
                drop_unknown=self.readings.unknown_keys_dropped,
            )
            for key in ("incident_at", "recovery_at"):
                if isinstance(changes.get(key), datetime):
                    changes[key] = format_timestamp(changes[key])
            if "recovery_at" in changes and "status" not in changes:
                # As on create, a recovery date ends the incident; clearing it reopens it.
                changes["status"] = "recovered" if changes["recovery_at"] else "ongoing"
            incident = {**current, **changes, "updated_at": format_timestamp(_now())}
            self.incidents[index] = incident
            return incident

    def recover_incident(self, incident_id: int) -> dict[str, Any] | None:
        with self.lock:
            index = self._incident_index(incident_id)
            if index is None:
                return None
            current = self.incidents[index]
            if current["status"] == "recovered":
                # Phare documents a 422 on recover (recoverUptimeIncident in the OpenAPI file)
                # without saying when; our reading is that recovering twice is refused.
                raise ValidationError({}, "The incident is already recovered.")
            now = format_timestamp(_now())
            incident = {
                **current,
                "status": "recovered",
                "recovery_at": current["recovery_at"] or now,
                "updated_at": now,
            }
            self.incidents[index] = incident
            return incident

    def delete_incident(self, incident_id: int) -> bool:
        with self.lock:
            index = self._incident_index(incident_id)
            if index is None:
                return False
            del self.incidents[index]
            self.incident_updates = [
                update for update in self.incident_updates if update["incident_id"] != incident_id
            ]
            return True

    def add_incident_update(
        self, incident_id: int, body: dict[str, Any], creator: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Add an update to the incident's timeline and move the incident to its state;
        ``None`` for an unknown incident, ``ValidationError`` if invalid."""
        with self.lock:
            index = self._incident_index(incident_id)
            if index is None:
                return None
            data = validate_incident_update(body, drop_unknown=self.readings.unknown_keys_dropped)
            now = format_timestamp(_now())
            update = {
                "id": self._issue_id("update"),
                "incident_id": incident_id,
                "state": data.state,
                "content": data.content,
                "published_at": format_timestamp(data.published_at) if data.published_at else now,
                "creator": dict(creator),
                "created_at": now,
                "updated_at": now,
            }
            self.incident_updates.append(update)
            self.incidents[index] = {
                **self.incidents[index],
                "state": data.state,
                "updated_at": now,
            }
            return update

    def incident_update_page(
        self, incident_id: int, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], bool] | None:
        """Updates of one page, newest published first; ``None`` for an unknown incident."""
        start = (page - 1) * per_page
        with self.lock:
            if self._incident_index(incident_id) is None:
                return None
            updates = [u for u in self.incident_updates if u["incident_id"] == incident_id]
        # Timestamps share one format and zone, so they sort as strings.
        updates.sort(key=lambda update: (update["published_at"], update["id"]), reverse=True)
        window = updates[start : start + per_page + 1]
        return window[:per_page], len(window) > per_page

    def open_monitor_incident(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open an incident as Phare's monitoring does when a monitor goes down, and mark
        the monitor offline; raises ``ValidationError``."""
        with self.lock:
            monitor_id, title = validate_monitor_incident(body, self.monitors)
            monitor = self.monitors[monitor_id]
            self.monitors[monitor_id] = {
                **monitor,
                "status": "offline",
                "paused": False,
                "response_time": None,
            }
            return self._store_incident(
                type="monitor",
                impact="major_outage",
                title=title or f"{monitor['name']} is down",
                monitors=[monitor_id],
            )

    def _issue_id(self, kind: str) -> int:
        """The next id of an incident or an update (under the lock), kept in the state file
        before it is used, so no id is ever issued twice."""
        issued = self._last_ids[kind] + 1
        self._last_ids[kind] = issued
        if self.state_file is not None:
            self._kept_ids[kind] = issued
            write_issued_ids(self.state_file, self._kept_ids)
        return issued

    def _latest_time(self) -> datetime | None:
        """The latest incident time accepted, with the future-time reading."""
        minutes = self.readings.max_future_minutes
        return None if minutes is None else _now() + timedelta(minutes=minutes)

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "incidents": len(self.incidents),
                "updates": len(self.incident_updates),
                "create_requests": list(self.create_requests),
                "writes": list(self.writes),
                "monitors": len(self.monitors),
                "requests": len(self.request_log),
            }
