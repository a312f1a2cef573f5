"""The incident form: field names equal the JSON keys of Phare's create-incident contract."""

import uuid
import zoneinfo
from datetime import datetime, timedelta
from typing import Self, cast

from django import forms
from django.conf import settings
from django.forms.renderers import TemplatesSetting
from django.http import QueryDict
from django.utils import timezone

from incidents import selectors
from incidents.models import Impact, Monitor, PhareProject
from incidents.phare import IncidentPayload

MAX_MONITORS = 100  # the contract's maxItems
MAX_ID = 2**63 - 1  # Phare's ids are positive 64-bit integers
WALL_CLOCK_FORMAT = "%Y-%m-%dT%H:%M"


class ConsoleFormRenderer(TemplatesSetting):
    """Every field through one template: label, widget, help and errors in a stable wrapper."""

    field_template_name = "incidents/field.html"


class WallClockDateTimeField(forms.DateTimeField):
    """A date and time as typed on a wall clock; the form applies the user's time zone.

    Django's DateTimeField would apply the server's time zone instead.
    """

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=WALL_CLOCK_FORMAT)
    default_error_messages = {
        "invalid": "Enter a date and time such as 2026-11-28 14:30.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not 1970 <= moment.year <= 9998:  # keeps every time zone conversion in range
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return moment


class MonitorIdsField(forms.Field):
    """Phare monitor ids, as many `monitors` values; checked against the project's copy."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": "Monitors are chosen from the list; reload the page and pick them again.",
        "too_many": f"Pick at most {MAX_MONITORS} monitors (Phare's limit).",
    }

    def to_python(self, value) -> list[int]:
        if value in self.empty_values:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        texts = [str(item).strip() for item in values]
        # ASCII digits only: int() would also read "١٢", "1_0", "+5" and " 7 ".
        if not all(text.isascii() and text.isdigit() and len(text) <= 19 for text in texts):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        ids = [int(text) for text in texts]
        if any(monitor_id <= 0 or monitor_id > 2**63 - 1 for monitor_id in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(ids))  # drop repeats, keep the order picked

    def validate(self, value: list[int]) -> None:
        super().validate(value)
        if len(value) > MAX_MONITORS:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")


# What each impact means, in Phare's words (https://docs.phare.io/uptime/incidents, "Impact"),
# from the worst down; the form lists them in this order.
IMPACT_MEANINGS = {
    Impact.MAJOR_OUTAGE.value: "people cannot use the service, or are severely affected",
    Impact.PARTIAL_OUTAGE.value: "some people are affected, or some features are down",
    Impact.DEGRADED_PERFORMANCE.value: "slower or working less well than usual",
    Impact.UNKNOWN.value: "still investigating: not sure yet how bad it is",
    Impact.MAINTENANCE.value: "planned work, such as a heavy update",
    Impact.OPERATIONAL.value: "a false alarm: everything works as expected",
}
IMPACT_CHOICES = [(value, Impact(value).label) for value in IMPACT_MEANINGS]


class ImpactRadioSelect(forms.RadioSelect):
    """One radio per impact, each with its one-line meaning (a fieldset: arrows move within)."""

    option_template_name = "incidents/widgets/impact_option.html"

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["meaning"] = IMPACT_MEANINGS.get(value, "")
        return option


class IncidentForm(forms.Form):
    submission_key = forms.UUIDField(widget=forms.HiddenInput)
    timezone = forms.CharField(widget=forms.HiddenInput, required=False)
    # Radios, none chosen at first: nobody declares "operational" (a false alarm) by accident.
    impact = forms.ChoiceField(
        choices=IMPACT_CHOICES,
        widget=ImpactRadioSelect,
        error_messages={"required": "Choose the impact.", "invalid_choice": "Choose an impact."},
    )
    title = forms.CharField(
        max_length=250,
        error_messages={
            "required": "Give the incident a title.",
            "max_length": "Keep the title to 250 characters (it has %(show_value)d).",
        },
    )
    description = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "max_length": "Keep the description to 2000 characters (it has %(show_value)d).",
        },
    )
    exclude_from_downtime = forms.BooleanField(
        required=False, help_text="Leave this incident out of the uptime figures."
    )
    incident_at = WallClockDateTimeField(
        required=False, help_text="When the incident started. Empty: now."
    )
    recovery_at = WallClockDateTimeField(
        required=False, help_text="When service recovered, if it has."
    )
    monitors = MonitorIdsField(required=False)
    # The incident template the form was filled from, for the audit log (not sent to Phare).
    incident_template = forms.CharField(widget=forms.HiddenInput, required=False)

    # An empty `incident_at` is sent as "now" (see to_payload).
    empty_start_is_now = True

    @classmethod
    def keeping_values(cls, data, *, project: PhareProject) -> Self:
        """An unbound form showing what was typed, for re-rendering without validating it
        (the no-JavaScript monitor search and refresh)."""
        initial = {name: data.get(name, "") for name in cls.base_fields if name != "monitors"}
        initial["exclude_from_downtime"] = bool(data.get("exclude_from_downtime"))
        try:
            initial["monitors"] = cls.base_fields["monitors"].to_python(data.getlist("monitors"))
        except forms.ValidationError:
            initial["monitors"] = []
        return cls(initial=initial, project=project)

    def __init__(self, *args, project: PhareProject, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.project = project
        if not self.is_bound:
            self.initial["submission_key"] = self.initial.get("submission_key") or uuid.uuid4()
            self.initial["timezone"] = self.initial.get("timezone") or settings.TIME_ZONE
        self.fields["title"].widget.attrs.update(maxlength=250, autocomplete="off")

    def clean_timezone(self) -> zoneinfo.ZoneInfo:
        name = self.cleaned_data["timezone"] or settings.TIME_ZONE
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                "Your browser reported an unknown time zone; times could not be read.",
                code="invalid_timezone",
            ) from None

    def clean_monitors(self) -> list[int]:
        ids = self.cleaned_data["monitors"]
        known = selectors.monitor_ids_known(self.project, ids) | self.monitors_allowed_unknown()
        unknown = [str(monitor_id) for monitor_id in ids if monitor_id not in known]
        if unknown:
            raise forms.ValidationError(
                "These monitors are not in the project's list: %(ids)s. Refresh the monitors "
                "and pick again.",
                code="unknown_monitor",
                params={"ids": ", ".join(unknown)},
            )
        return ids

    def clean_incident_template(self) -> str:
        """The name of one of the project's templates, else nothing: a template renamed or
        deleted meanwhile never stops a create."""
        name = self.cleaned_data["incident_template"]
        if not name or "\x00" in name:
            return ""
        return name if self.project.incident_templates.filter(name=name).exists() else ""

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        zone = cleaned.get("timezone")
        for name in ("incident_at", "recovery_at"):
            moment = cleaned.get(name)
            if moment is not None and moment.tzinfo is None and zone is not None:
                cleaned[name] = moment.replace(tzinfo=zone)
        incident_at, recovery_at = cleaned.get("incident_at"), cleaned.get("recovery_at")
        if (
            incident_at is not None
            and recovery_at is not None
            and incident_at.tzinfo is not None
            and recovery_at.tzinfo is not None
            and recovery_at < incident_at
        ):
            self.add_error("recovery_at", "Recovery cannot be before the incident started.")
        if (
            self.empty_start_is_now
            and incident_at is None
            and "incident_at" not in self.errors
            and recovery_at is not None
            and recovery_at.tzinfo is not None
            and recovery_at < timezone.now()
        ):
            self.add_error(
                "incident_at",
                forms.ValidationError(
                    "Give the start time too: an empty start means now, and the recovery time "
                    "is before now.",
                    code="start_needed",
                ),
            )
        self._refuse_times_far_ahead()
        return cleaned

    # The order the form shows its fields in (incident_form.html), for the error summary.
    display_order = (
        "impact",
        "exclude_from_downtime",
        "title",
        "description",
        "monitors",
        "incident_at",
        "recovery_at",
    )

    def fields_to_fix(self) -> list[dict[str, str]]:
        """The fields with an error, in the order shown, each with the element its summary
        link leads to: the field, the first radio of a group, the monitor search box."""
        found = []
        for name in self.display_order:
            if name not in self.errors:
                continue
            bound = self[name]
            anchor = {"impact": f"{bound.auto_id}_0", "monitors": "monitor-search"}.get(
                name, bound.auto_id
            )
            message = " ".join(str(error) for error in self.errors[name])
            found.append({"anchor": anchor, "label": str(bound.label), "message": message})
        return found

    def times_limited_to_near_future(self) -> list[str]:
        """The time fields to check against PHARE_MAX_FUTURE_MINUTES."""
        return ["incident_at", "recovery_at"]

    def _refuse_times_far_ahead(self) -> None:
        """Phare refuses times in the future (by a few minutes' tolerance): say so here, with
        the field, rather than after a round trip."""
        minutes = settings.PHARE_MAX_FUTURE_MINUTES
        latest = timezone.now() + timedelta(minutes=minutes)
        for name in self.times_limited_to_near_future():
            moment = self.cleaned_data.get(name)
            if moment is not None and moment.tzinfo is not None and moment > latest:
                self.add_error(
                    name,
                    forms.ValidationError(
                        "This is in the future: Phare accepts times at most %(minutes)d minutes "
                        "ahead of now. Check the date and the time.",
                        code="too_far_ahead",
                        params={"minutes": minutes},
                    ),
                )

    def to_payload(self) -> IncidentPayload:
        """The create body. A start left empty is sent as the console's "now": one page of
        Phare's documentation marks `incident_at` required, and sending it satisfies all."""
        data = self.cleaned_data
        return IncidentPayload(
            impact=data["impact"],
            title=data["title"],
            exclude_from_downtime=data["exclude_from_downtime"],
            description=data["description"],
            incident_at=data["incident_at"] or timezone.now(),
            recovery_at=data["recovery_at"],
            monitors=data["monitors"],
        )

    def selected_monitors(self) -> list[Monitor]:
        """The picked monitors, in the order picked, for re-rendering the chips."""
        if self.is_bound:
            try:
                ids = (
                    self.fields["monitors"].to_python(
                        cast(QueryDict, self.data).getlist("monitors")
                    )
                    or []
                )
            except forms.ValidationError:
                return []
        else:
            ids = self.initial.get("monitors", [])
        if not ids:  # the usual empty form: not even a query to build
            return []
        by_id = {
            monitor.phare_id: monitor
            for monitor in Monitor.objects.filter(project=self.project, phare_id__in=ids)
        }
        for monitor_id in self.monitors_allowed_unknown() - set(by_id):
            # Shown as a chip by its id, so that it is kept unless someone removes it.
            by_id[monitor_id] = Monitor(phare_id=monitor_id, name=f"#{monitor_id}", target="")
        return [by_id[monitor_id] for monitor_id in ids if monitor_id in by_id]

    def monitors_allowed_unknown(self) -> set[int]:
        """Monitor ids accepted although the console's list lacks them (none here)."""
        return set()

    def renew_submission_key(self) -> None:
        """After a definite failure, the next press of the button is a new attempt."""
        data = cast(QueryDict, self.data).copy()
        data["submission_key"] = str(uuid.uuid4())
        self.data = data

    def add_phare_errors(self, field_errors: dict[str, list[str]], message: str = "") -> None:
        """Put Phare's 422 errors under the fields they name.

        Laravel-style keys such as `monitors.0` belong to `monitors`; the index names the
        monitor, so the message says which one. Keys no field owns become form errors, and so
        does Phare's message when it names no field at all.
        """
        if not field_errors:
            self.add_error(None, message or "Phare rejected the incident without saying why.")
            return
        submitted_monitors = self.cleaned_data.get("monitors") or []
        names = dict(
            Monitor.objects.filter(
                project=self.project, phare_id__in=submitted_monitors
            ).values_list("phare_id", "name")
        )
        for key, messages in field_errors.items():
            field_name, _, index = key.partition(".")
            for message in messages:
                if field_name == "monitors" and index.isdigit():
                    position = int(index)
                    if position < len(submitted_monitors):
                        monitor_id = submitted_monitors[position]
                        label = names.get(monitor_id, f"id {monitor_id}")
                        # Laravel names the item by its key ("The selected monitors.0 is ...").
                        message = message.replace(key, "monitor")
                        message = f"Phare does not accept monitor “{label}”: {message}"
                if field_name in self.fields and field_name not in ("submission_key", "timezone"):
                    self.add_error(field_name, message)
                else:
                    self.add_error(None, f"{key}: {message}")
