"""The audit log's rows and filter choices, for templates/incidents/audit_list.html."""

from collections.abc import Iterable
from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from incidents.audit_search import AuditRow
from incidents.models import AuditEntry
from incidents.templatetags.console import moment

register = template.Library()

# A page has 50 rows of 8 cells and a filter form of some 35 choices: written by one format
# each (every value escaped), they cost a sixth of what loops of template tags cost (a variable
# lookup, a filter, an {% if %}, get_FOO_display or a reverse each): half the page's time at
# 1,000,000 entries. The tests and console.css rely on this markup: each cell's data-label
# (the phone layout), the link to the entry's page, the outcome's classes.
ROW = (
    "<tr>"
    '<td class="nowrap" data-label="When"><a href="{url}">{when}</a></td>'
    '<td data-label="Actor">{actor}</td>'
    '<td data-label="Project">{project}</td>'
    '<td data-label="Action">{action}</td>'
    '<td data-label="Outcome"><span class="outcome outcome-{outcome}">{outcome_label}</span></td>'
    '<td data-label="Title">{title}</td>'
    '<td class="nowrap" data-label="Phare">{slug}</td>'
    '<td data-label="HTTP">{http_status}</td>'
    "</tr>"
)
ACTION_LABELS = dict(AuditEntry.Action.choices)
OUTCOME_LABELS = dict(AuditEntry.Outcome.choices)
# Stands for the entry's id in the address reversed once a page (any id would do; this one is
# long so that nothing else in the address can hold it).
ID_MARK = "918273645546372819"


@register.simple_tag
def audit_rows(entries: Iterable[AuditRow]) -> SafeString:
    """One `<tr>` per entry of a page (audit_search.page_of)."""
    address = escape(reverse("incidents:audit_detail", kwargs={"pk": ID_MARK}))
    before_id, _, after_id = address.partition(ID_MARK)
    rows = (
        ROW.format(
            url=f"{before_id}{entry.pk}{after_id}",
            when=moment(entry.created_at, seconds=True),
            actor=escape(entry.actor_username or "—"),
            project=escape(entry.project_name),
            action=escape(ACTION_LABELS.get(entry.action, entry.action)),
            outcome=escape(entry.outcome),
            outcome_label=escape(OUTCOME_LABELS.get(entry.outcome, entry.outcome)),
            title=escape(entry.title),
            slug=escape(entry.phare_incident_slug),
            http_status=entry.http_status or "",
        )
        for entry in entries
    )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped above)


@register.simple_tag
def choice_options(choices: Iterable[tuple[str, str]], selected: str) -> SafeString:
    """An `<option>` per (value, label), the one whose value is `selected` selected."""
    return mark_safe(  # noqa: S308 (every value is escaped)
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
            f"{escape(str(label))}</option>"
            for value, label in choices
        )
    )
