"""Prefill links: the create form's first values from an incident template and from a link's
query string (an alert or a runbook: `incidents/new/?template=…&title=…&monitors=12,api`).

A link never creates anything: it only fills the form. Every value is checked here as the form
would check it; a value that cannot be used is left out and named in a warning, so a link with
a typo still opens the form with everything else filled in. Query values override the
template's.
"""

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from django.http import QueryDict
from django.utils import timezone

from incidents.forms import MAX_MONITORS
from incidents.models import Impact, IncidentTemplate, Monitor, PhareProject

MAX_TITLE = 250
MAX_DESCRIPTION = 2000
# What a link may carry; anything else is named in a warning (a typo such as "titel").
PARAMETERS = (
    "template",
    "impact",
    "title",
    "description",
    "monitors",
    "exclude_from_downtime",
    "incident_at",
)
# Beyond this many items, `monitors` is not read at all (no query for each of them).
MAX_MONITOR_ITEMS = 1000
SHOWN_LENGTH = 60
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


@dataclass
class Prefill:
    """The create form's initial values, and what could not be used, one sentence each."""

    initial: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    template: IncidentTemplate | None = None
    # The start was given with its offset: it is shown in `zone`, which the form then keeps
    # (rather than the browser's zone, which may differ on a first visit).
    zone_name: str = ""


def shown(value: str) -> str:
    """A value from the link as a warning may quote it: control characters as "�", cut to
    SHOWN_LENGTH characters. (Templates escape it; this keeps it readable.)"""
    cleaned = "".join("�" if unicodedata.category(char) == "Cc" else char for char in value)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > SHOWN_LENGTH:
        cleaned = cleaned[: SHOWN_LENGTH - 1] + "…"
    return f"“{cleaned}”"


def prefill_from(project: PhareProject, query: QueryDict, *, zone: tzinfo | None = None) -> Prefill:
    """The form's initial values for `project` from the link's `query`. `zone`: the viewer's
    time zone, for a start given with an offset (default: the current time zone)."""
    prefill = Prefill()
    for name in query:
        if name not in PARAMETERS:
            prefill.warnings.append(f"{shown(name)}: the link cannot fill this field.")
    values: dict[str, str] = {}
    for name in PARAMETERS:
        given = query.getlist(name)
        if not given:
            continue
        # monitors may be repeated (monitors=1&monitors=2); other fields take the last value.
        value = ",".join(given) if name == "monitors" else given[-1]
        if "\x00" in value:
            prefill.warnings.append(f"{name}: contains a NUL character.")
            continue
        if value.strip():
            values[name] = value.strip()
    if "template" in values:
        _apply_template(project, values["template"], prefill)
    if "impact" in values:
        _apply_impact(values["impact"], prefill)
    if "title" in values:
        title = " ".join(values["title"].split())
        if len(title) > MAX_TITLE:
            prefill.warnings.append(
                f"title: longer than {MAX_TITLE} characters ({len(title)}), {shown(title)}."
            )
        else:
            prefill.initial["title"] = title
    if "description" in values:
        description = values["description"]
        if len(description) > MAX_DESCRIPTION:
            prefill.warnings.append(
                f"description: longer than {MAX_DESCRIPTION} characters ({len(description)})."
            )
        else:
            prefill.initial["description"] = description
    if "monitors" in values:
        _apply_monitors(project, values["monitors"], prefill)
    if "exclude_from_downtime" in values:
        word = values["exclude_from_downtime"].lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            prefill.initial["exclude_from_downtime"] = word in TRUE_WORDS
        else:
            prefill.warnings.append(
                f"exclude_from_downtime {shown(values['exclude_from_downtime'])}: "
                "use 1 (yes) or 0 (no)."
            )
    if "incident_at" in values:
        _apply_start(values["incident_at"], prefill, zone or timezone.get_current_timezone())
    return prefill


def template_named(project: PhareProject, name: str) -> IncidentTemplate | None:
    """The project's template of this name: the exact name, else the only one equal to it in
    another case."""
    wanted = " ".join(name.split())
    templates = list(project.incident_templates.all())
    for template in templates:
        if template.name == wanted:
            return template
    alike = [t for t in templates if t.name.casefold() == wanted.casefold()]
    return alike[0] if len(alike) == 1 else None


def _apply_template(project: PhareProject, name: str, prefill: Prefill) -> None:
    template = template_named(project, name)
    if template is None:
        prefill.warnings.append(f"template {shown(name)}: this project has no such template.")
        return
    prefill.template = template
    prefill.initial.update(
        incident_template=template.name,
        impact=template.impact,
        title=template.title,
        description=template.description,
        exclude_from_downtime=template.exclude_from_downtime,
    )
    known = set(
        Monitor.objects.filter(project=project, phare_id__in=template.monitors).values_list(
            "phare_id", flat=True
        )
    )
    prefill.initial["monitors"] = [m for m in template.monitors if m in known]
    if gone := [f"#{m}" for m in template.monitors if m not in known]:
        prefill.warnings.append(
            f"monitors {', '.join(gone)} of template {shown(template.name)}: no longer in the "
            "project's monitor list."
        )


def _apply_impact(value: str, prefill: Prefill) -> None:
    """An impact by its value (major_outage) or its label (Major outage, major-outage)."""
    wanted = "_".join(value.lower().replace("-", " ").split())
    by_label = {"_".join(label.lower().split()): impact for impact, label in Impact.choices}
    impact = wanted if wanted in Impact.values else by_label.get(wanted)
    if impact is None:
        choices = ", ".join(Impact.values)
        prefill.warnings.append(f"impact {shown(value)}: not an impact (one of {choices}).")
        return
    prefill.initial["impact"] = impact


def _apply_monitors(project: PhareProject, value: str, prefill: Prefill) -> None:
    """Monitors by Phare id or exact name (case-insensitive when only one matches), separated
    by commas. They replace the template's when at least one is found."""
    items = list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
    if len(items) > MAX_MONITORS:
        prefill.warnings.append(
            f"monitors: {len(items) if len(items) <= MAX_MONITOR_ITEMS else 'too many'} given, "
            f"Phare accepts at most {MAX_MONITORS} per incident."
        )
        return
    found: list[int] = []
    unknown: list[str] = []
    ambiguous: list[str] = []
    for item, match in _resolve_monitors(project, items):
        if isinstance(match, int):
            found.append(match)
        elif match == "ambiguous":
            ambiguous.append(shown(item))
        else:
            unknown.append(shown(item))
    if unknown:
        prefill.warnings.append(
            f"monitors {', '.join(unknown)}: not in the project's monitor list (by id or exact "
            "name)."
        )
    if ambiguous:
        prefill.warnings.append(
            f"monitors {', '.join(ambiguous)}: several monitors have this name; give their ids."
        )
    if found:
        prefill.initial["monitors"] = list(dict.fromkeys(found))


def _resolve_monitors(
    project: PhareProject, items: list[str]
) -> Iterable[tuple[str, int | str | None]]:
    """Each item with its monitor's Phare id, "ambiguous", or None (no such monitor)."""
    ids = {int(item) for item in items if item.isascii() and item.isdigit() and len(item) <= 19}
    known_ids = set(
        Monitor.objects.filter(project=project, phare_id__in=ids).values_list("phare_id", flat=True)
    )
    by_name: dict[str, list[tuple[int, str]]] = {}
    names = [item.lower() for item in items]
    for phare_id, name, search_name in Monitor.objects.filter(
        project=project, search_name__in=names
    ).values_list("phare_id", "name", "search_name"):
        by_name.setdefault(search_name, []).append((phare_id, name))
    for item in items:
        if item.isascii() and item.isdigit() and len(item) <= 19 and int(item) in known_ids:
            yield item, int(item)
            continue
        candidates = by_name.get(item.lower(), [])
        exact = [phare_id for phare_id, name in candidates if name == item]
        if len(exact) == 1 or (not exact and len(candidates) == 1):
            yield item, exact[0] if exact else candidates[0][0]
        elif exact or candidates:
            yield item, "ambiguous"
        else:
            yield item, None


def _apply_start(value: str, prefill: Prefill, zone: tzinfo) -> None:
    """ISO 8601 (2026-11-28T14:30, with Z or an offset for an exact moment; without, the
    viewer's wall clock, as if typed)."""
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or not 1970 <= moment.year <= 9998:
        prefill.warnings.append(
            f"incident_at {shown(value)}: not a date and time such as 2026-11-28T14:30 or "
            "2026-11-28T14:30:00Z."
        )
        return
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
        prefill.zone_name = str(zone)
        prefill.initial["timezone"] = str(zone)
    prefill.initial["incident_at"] = moment
