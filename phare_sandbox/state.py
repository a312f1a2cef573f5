"""Everything the sandbox knows: tokens, monitors, incidents, rate-limit window and faults."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .seed import build_monitors, format_timestamp
from .validation import validate_incident

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
    ) -> None:
        if monitor_count < 0:
            raise ValueError("monitor_count must be >= 0")
        self.lock = threading.RLock()
        self.project_id = 1
        self.project_slug = "demo-project"
        self.monitor_count = monitor_count
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.tokens: dict[str, TokenInfo] = {}
        self.monitors: dict[int, dict[str, Any]] = {}
        self.incidents: list[dict[str, Any]] = []
        self.create_requests: list[Any] = []
        self.request_log: list[str] = []  # "METHOD /path?query" of every API request
        self.tokens_seen: set[str] = set()  # known tokens that reached the API
        self.faults: list[Fault] = []
        self._calls: deque[float] = deque()
        self._next_incident_id = 1
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
        """Back to the seeded monitors; forget incidents, requests, rate-limit calls and faults."""
        now = _now()
        # Phare reports last checks with a 30 s accuracy.
        checked_at = now.replace(second=now.second // 30 * 30)
        monitors = build_monitors(self.monitor_count, self.project_id, checked_at)
        with self.lock:
            self.monitors = monitors
            self.incidents.clear()
            self.create_requests.clear()
            self.request_log.clear()
            self.tokens_seen.clear()
            self.faults.clear()
            self._calls.clear()
            self._next_incident_id = 1

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
        with self.lock:
            while self._calls and self._calls[0] <= now - RATE_LIMIT_WINDOW_S:
                self._calls.popleft()
            if len(self._calls) >= limit:
                wait = self._calls[0] + RATE_LIMIT_WINDOW_S - now
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
        """Incidents newest first, optionally only those linked to any of ``monitor_ids``."""
        start = (page - 1) * per_page
        with self.lock:
            matching = [
                incident
                for incident in reversed(self.incidents)
                if not monitor_ids or monitor_ids.intersection(incident["monitors"])
            ]
        window = matching[start : start + per_page + 1]
        return window[:per_page], len(window) > per_page

    def get_incident(self, incident_id: int) -> dict[str, Any] | None:
        with self.lock:
            return next((i for i in self.incidents if i["id"] == incident_id), None)

    def create_incident(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate ``body`` like Phare and store the incident; raises ``ValidationError``."""
        with self.lock:
            data = validate_incident(body, self.monitors)
            incident_id = self._next_incident_id
            self._next_incident_id += 1
            now = format_timestamp(_now())
            incident = {
                "id": incident_id,
                "project_id": self.project_id,
                "type": "manual",
                "slug": f"DEMO-{incident_id}",
                "state": "investigating",
                "status": "recovered" if data.recovery_at else "ongoing",
                "impact": data.impact,
                "title": data.title,
                "description": data.description,
                "exclude_from_downtime": data.exclude_from_downtime,
                "incident_at": format_timestamp(data.incident_at) if data.incident_at else now,
                "recovery_at": format_timestamp(data.recovery_at) if data.recovery_at else None,
                "monitors": data.monitors,
                "created_at": now,
                "updated_at": now,
            }
            self.incidents.append(incident)
        return incident

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "incidents": len(self.incidents),
                "create_requests": list(self.create_requests),
                "monitors": len(self.monitors),
            }
