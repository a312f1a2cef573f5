"""The monitor picker's options, for templates/incidents/partials/monitor_picker.html."""

from collections.abc import Iterable
from typing import Protocol

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

register = template.Library()

# One search answers with up to 100 options: built by one format each, 50 options take 0.45 ms
# where a `{% partial %}` per option took 1.5 ms (BENCHMARKS.md, monitor picker).
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
    checked_attribute = SafeString(" checked" if checked else "")
    return format_html_join(
        "\n",
        OPTION,
        (
            (
                monitor.status or "unknown",
                monitor.phare_id,
                monitor.name,
                monitor.target,
                checked_attribute,
            )
            for monitor in monitors
        ),
    )
