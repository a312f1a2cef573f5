"""The monitor picker's options, for templates/incidents/partials/monitor_picker.html."""

from collections.abc import Iterable
from html import escape
from typing import Protocol

from django import template
from django.utils.safestring import SafeString

register = template.Library()

# One search answers with up to 100 options, built by one str.format each, the values escaped
# by html.escape (what Django's escape() calls): a fifth of the time format_html took, itself a
# third of a `{% partial %}` per option (BENCHMARKS.md, monitor picker).
# console.js and the tests rely on this markup: #monitor-options li, its checkbox and spans.
OPTION = (
    '<li class="monitor-option status-{0}"><label>'
    '<input type="checkbox" name="monitors" value="{1}"{4}> '
    '<span class="monitor-name">{2}</span> <span class="monitor-target muted">{3}</span> '
    '<span class="monitor-status">{0}</span></label></li>'
)


class PickerMonitor(Protocol):
    """A Monitor, or a selectors.MonitorOption: what an option shows."""

    phare_id: int
    name: str
    target: str
    status: str


@register.simple_tag
def monitor_options(monitors: Iterable[PickerMonitor], checked: bool = False) -> SafeString:
    """One `<li>` per monitor, its checkbox `checked` (the picked ones) or not (the results).
    Every value is escaped."""
    checked_attribute = " checked" if checked else ""
    return SafeString(
        "\n".join(
            OPTION.format(
                escape(monitor.status or "unknown"),
                escape(str(monitor.phare_id)),
                escape(monitor.name),
                escape(monitor.target),
                checked_attribute,
            )
            for monitor in monitors
        )
    )
