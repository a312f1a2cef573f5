"""Readings of Phare's documentation that differ from the sandbox's default, one flag each.

The sources disagree or stay silent on several points (see shared/phare-api/README.md,
"Discrepancies"); each flag makes the sandbox answer as one other reading would, so that the
console can be tested against all of them. Set them with ``SandboxState.configure`` or
``POST /__sandbox__/settings``; ``reset()`` restores the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

LINK_MODES = ("absolute", "relative")
_AWARE_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Readings:
    oldest_first: bool = False
    """Incident lists oldest first (no source documents an order; the default is newest first)."""
    monitor_filter_ignored: bool = False
    """``GET /uptime/incidents`` ignores ``monitor_id``: the list-incidents docs page shows only
    page and per_page."""
    links: str = "absolute"
    """Pagination links: "absolute" (to the request's host), "relative" (a path and query), or
    another base URL, such as the ``http://`` address of the application behind a TLS proxy."""
    links_drop_per_page: bool = False
    """Pagination links keep only ``page`` (Laravel's paginator without ``appends``)."""
    naive_timestamps: bool = False
    """Times without a zone, "2026-11-28 10:00:00" (a Laravel model without date casts)."""
    incident_at_required: bool = False
    """A create without ``incident_at`` is refused (the rendered create-incident page)."""
    max_future_minutes: int | None = None
    """Incident times further ahead than this are refused (as a real client found)."""
    unknown_keys_dropped: bool = False
    """Unknown body keys are silently dropped (Laravel's ``validated()``), not refused."""
    retry_after_rounded_down: bool = False
    """The rate limit's Retry-After is rounded down, so it reads 0 in the last second (as the
    comments of Phare's Terraform provider say)."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{field.name} must be true or false")
        if not isinstance(self.links, str) or not (
            self.links in LINK_MODES or re.fullmatch(r"https?://[^/?#\s]+", self.links)
        ):
            raise ValueError(
                'links must be "absolute", "relative" or a base URL such as http://phare.internal'
            )
        minutes = self.max_future_minutes
        if minutes is not None and (
            not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0
        ):
            raise ValueError("max_future_minutes must be null or an integer >= 0")

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in fields(cls)]


def without_zones(value: Any) -> Any:
    """``value`` with every ``*_at`` time written without its zone, in UTC."""
    if isinstance(value, list):
        return [without_zones(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if key.endswith("_at") and isinstance(item, str) and _AWARE_TIMESTAMP.fullmatch(item):
            moment = datetime.fromisoformat(item.replace("Z", "+00:00")).astimezone(UTC)
            item = moment.strftime("%Y-%m-%d %H:%M:%S")
        else:
            item = without_zones(item)
        result[key] = item
    return result
