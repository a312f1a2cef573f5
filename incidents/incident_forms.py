"""Forms of one incident's page: post an update, edit, mark recovered, delete."""

import json
import uuid
import zoneinfo
from datetime import datetime
from typing import Any, cast

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.forms import MAX_ID, IncidentForm, WallClockDateTimeField
from incidents.models import PhareIncident
from incidents.phare import Incident, IncidentUpdatePayload, same_value
from incidents.phare.schemas import EDITABLE_FIELDS

UPDATE_STATES = [
    ("investigating", "Investigating"),
    ("identified", "Identified"),
    ("monitoring", "Monitoring"),
    ("resolved", "Resolved"),
]
BASE_MAX_LENGTH = 20_000  # the base of an incident with 100 monitors and every text at its limit


class _Keyed(forms.Form):
    """A write: its submission key makes two clicks or two tabs one write."""

    submission_key = forms.UUIDField(widget=forms.HiddenInput)
    # Several of these forms share the incident's page: each names its fields' ids apart.
    id_prefix = "write"

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission_key", uuid.uuid4())

    def renew_submission_key(self, *names: str) -> None:
        """After Phare refused the write (422), the next press is a new attempt: the same key
        would only show the same refusal again without sending the corrected form."""
        data = cast(QueryDict, self.data).copy()
        for name in names or ("submission_key",):
            data[name] = str(uuid.uuid4())
        self.data = data


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise forms.ValidationError(
            "Your browser reported an unknown time zone; times could not be read.",
            code="invalid_timezone",
        ) from None


class IncidentUpdateForm(_Keyed):
    id_prefix = "update"
    timezone = forms.CharField(widget=forms.HiddenInput, required=False)
    state = forms.ChoiceField(
        label="State",
        choices=UPDATE_STATES,
        error_messages={"invalid_choice": "Choose one of the states."},
    )
    content = forms.CharField(
        label="Message",
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": "Write what is happening.",
            "max_length": "Keep the message to 10,000 characters (it has %(show_value)d).",
        },
    )
    published_at = WallClockDateTimeField(label="Published at", required=False)

    def __init__(self, *args: Any, latest_state: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            states = [value for value, _ in UPDATE_STATES]
            self.initial.setdefault(
                "state", latest_state if latest_state in states else "investigating"
            )
            self.initial.setdefault("timezone", timezone.get_current_timezone_name())
        zone = self.initial.get("timezone") or self.data.get("timezone") or settings.TIME_ZONE
        self.fields["published_at"].help_text = f"In {zone}. Empty: now."

    def clean_timezone(self) -> zoneinfo.ZoneInfo:
        return _zone(self.cleaned_data["timezone"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        moment, zone = self.cleaned_data.get("published_at"), self.cleaned_data.get("timezone")
        if moment is not None and moment.tzinfo is None and zone is not None:
            self.cleaned_data["published_at"] = moment.replace(tzinfo=zone)
        return self.cleaned_data

    def to_payload(self) -> IncidentUpdatePayload:
        data = self.cleaned_data
        return IncidentUpdatePayload(
            state=data["state"], content=data["content"], published_at=data["published_at"]
        )


class IncidentEditForm(IncidentForm):
    """The create form, prefilled from the copy, with the values it was rendered with (`base`)
    so that only what the person changed is sent and a change in Phare meanwhile is seen."""

    base = forms.CharField(widget=forms.HiddenInput, max_length=BASE_MAX_LENGTH)

    # An emptied start is sent as null, not as "now".
    empty_start_is_now = False

    def times_limited_to_near_future(self) -> list[str]:
        """Only the times the person changed: one left as shown is not sent, wherever it is."""
        base = self.cleaned_data.get("base")
        if not isinstance(base, dict):
            return super().times_limited_to_near_future()
        return [
            name
            for name in super().times_limited_to_near_future()
            if not _left_as_shown(self.cleaned_data.get(name), base.get(name))
        ]

    @classmethod
    def for_incident(cls, incident: PhareIncident) -> "IncidentEditForm":
        values = values_of(incident)
        zone = timezone.get_current_timezone()
        initial: dict[str, Any] = {
            **values,
            "base": encode_base(values),
            "timezone": timezone.get_current_timezone_name(),
        }
        for name in ("incident_at", "recovery_at"):
            if values[name] is not None:
                initial[name] = values[name].astimezone(zone).replace(tzinfo=None)
        return cls(initial=initial, project=incident.project)

    @classmethod
    def on_top_of(cls, current: Incident, mine: "IncidentEditForm") -> "IncidentEditForm":
        """After an edit conflict: Phare's values now, except the fields the person changed
        (against the values their form started from), which keep what they typed. Saving it
        applies their changes on top of the change made in Phare."""
        started_from, typed, now = (
            mine.cleaned_data["base"],
            mine.changed_values(),
            values_of(current),
        )
        values = {
            name: now[name] if same_value(typed[name], started_from[name]) else typed[name]
            for name in EDITABLE_FIELDS
        }
        zone = mine.cleaned_data["timezone"]
        initial: dict[str, Any] = {**values, "base": encode_base(now), "timezone": zone.key}
        for name in ("incident_at", "recovery_at"):
            if values[name] is not None:
                initial[name] = values[name].astimezone(zone).replace(tzinfo=None)
        return cls(initial=initial, project=mine.project)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["incident_at"].help_text = "When the incident started."
        self.fields["recovery_at"].help_text = "When service recovered; empty: not yet."

    def clean_base(self) -> dict[str, Any]:
        try:
            return decode_base(self.cleaned_data["base"])
        except (ValueError, TypeError, KeyError, RecursionError):
            raise forms.ValidationError(
                "The form is damaged; reload the page.", code="invalid_base"
            ) from None

    def monitors_allowed_unknown(self) -> set[int]:
        """The incident's own monitors stay pickable even when the console's list does not
        have them (a monitor Phare opened the incident on before the list was refreshed):
        an edit never drops them by accident."""
        raw = self.data.get("base") if self.is_bound else self.initial.get("base")
        try:
            return set(decode_base(str(raw or ""))["monitors"])
        except (ValueError, TypeError, KeyError, RecursionError):
            return set()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        base = cleaned.get("base")
        if isinstance(base, dict):
            for name in ("incident_at", "recovery_at"):
                typed, started_from = cleaned.get(name), base.get(name)
                # The form shows times to the minute: a time left as shown is the base's own
                # (seconds included), not a change that would move it to the minute.
                if (
                    typed is not None
                    and started_from is not None
                    and typed == started_from.replace(second=0, microsecond=0)
                ):
                    cleaned[name] = started_from
        return cleaned

    def changed_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {name: data[name] for name in EDITABLE_FIELDS}


def _left_as_shown(typed: datetime | None, started_from: datetime | None) -> bool:
    """A time as the edit form showed it (to the minute) or as it was."""
    if typed is None or started_from is None:
        return typed is started_from
    return typed in (started_from, started_from.replace(second=0, microsecond=0))


def values_of(incident: Any) -> dict[str, Any]:
    """The editable fields of an incident (the copy, or Phare's Incident)."""
    return {
        "impact": incident.impact,
        "title": incident.title,
        "description": incident.description or "",
        "exclude_from_downtime": incident.exclude_from_downtime,
        "incident_at": incident.incident_at,
        "recovery_at": incident.recovery_at,
        "monitors": list(incident.monitors),
    }


def encode_base(values: dict[str, Any]) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()},
        sort_keys=True,
    )


def decode_base(text: str) -> dict[str, Any]:
    """The values an edit form was rendered with; ValueError for anything else (a hand-made
    or damaged form: the types are checked, so nothing odd reaches the comparison)."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    base = {name: raw[name] for name in EDITABLE_FIELDS}
    for name in ("impact", "title", "description"):
        if not isinstance(base[name], str):
            raise ValueError(name)
    if not isinstance(base["exclude_from_downtime"], bool):
        raise ValueError("exclude_from_downtime")
    monitors = base["monitors"]
    if not isinstance(monitors, list) or not all(
        type(item) is int and 0 < item <= MAX_ID for item in monitors
    ):
        raise ValueError("monitors")
    for name in ("incident_at", "recovery_at"):
        if base[name] is not None:
            moment = parse_datetime(str(base[name]))
            if moment is None or moment.tzinfo is None or not 1970 <= moment.year <= 9998:
                raise ValueError(name)
            base[name] = moment
    return base


class IncidentRecoverForm(_Keyed):
    """Mark recovered, optionally with a Resolved update posted first (its own key)."""

    id_prefix = "recover"

    update_submission_key = forms.UUIDField(widget=forms.HiddenInput)
    message = forms.CharField(
        label="Resolved update (optional)",
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Posted on the timeline as “Resolved” before the incident is marked recovered.",
        error_messages={
            "max_length": "Keep the message to 10,000 characters (it has %(show_value)d).",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("update_submission_key", uuid.uuid4())


class IncidentDeleteForm(_Keyed):
    id_prefix = "delete"

    confirm_title = forms.CharField(
        label="Type the incident's title to confirm",
        error_messages={"required": "Type the incident's title to confirm."},
    )

    def __init__(self, *args: Any, incident: PhareIncident, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.fields["confirm_title"].widget.attrs.update(autocomplete="off")

    def clean_confirm_title(self) -> str:
        typed = self.cleaned_data["confirm_title"]
        if typed.strip() != self.incident.title.strip():
            raise forms.ValidationError(
                "That is not the incident's title; nothing was deleted.", code="mismatch"
            )
        return typed
