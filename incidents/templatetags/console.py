import json
from datetime import UTC, datetime
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """JSON as Phare saw it (not Python's repr); autoescaped by the template."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@register.simple_tag
def moment(value: datetime | None, seconds: bool = False) -> str:
    """A time in the viewer's zone (ViewerTimeZoneMiddleware), its zone named, UTC on hover:
    one way on every page. `seconds=True` adds the seconds (the audit log)."""
    if value is None:
        return ""
    clock = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    local = timezone.localtime(value)
    utc = value.astimezone(UTC)
    # What format_html writes, without its per-argument checks: the audit log has 50 a page.
    return mark_safe(  # noqa: S308 (every value escaped)
        f'<time datetime="{escape(utc.isoformat().replace("+00:00", "Z"))}" '
        f'title="{escape(utc.strftime(clock + " UTC"))}">'
        f"{escape(local.strftime(clock + ' ') + (local.tzname() or ''))}</time>"
    )


@register.filter
def lasted(incident) -> str:
    """How long the incident has lasted (ongoing) or lasted (recovered): "2 h 5 min"."""
    end = incident.recovery_at or timezone.now()
    seconds = max(0, int((end - incident.started_at).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under a minute"


@register.filter
def seconds_ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    return f"{seconds // 60} min ago"
