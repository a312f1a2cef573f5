"""The form of an incident template: the create form's fields and checks (impact, title,
description, exclude from downtime, monitors of the project), with a name and without the
times and the submission key."""

from typing import Any

from django import forms

from incidents.forms import IncidentForm
from incidents.models import MAX_TEMPLATE_NAME, IncidentTemplate, PhareProject


class IncidentTemplateForm(IncidentForm):
    name = forms.CharField(
        label="Template name",
        max_length=MAX_TEMPLATE_NAME,
        help_text="Shown on its button above the incident form, and used in links "
        "(…/incidents/new/?template=name).",
        error_messages={
            "required": "Give the template a name.",
            "max_length": f"Keep the name to {MAX_TEMPLATE_NAME} characters "
            "(it has %(show_value)d).",
        },
    )
    # Not part of a template: removed from the create form's fields.
    submission_key = None  # type: ignore[assignment]
    timezone = None  # type: ignore[assignment]
    incident_at = None  # type: ignore[assignment]
    recovery_at = None  # type: ignore[assignment]
    incident_template = None  # type: ignore[assignment]

    field_order = ["name"]

    def __init__(
        self,
        *args: Any,
        project: PhareProject,
        template: IncidentTemplate | None = None,
        **kwargs: Any,
    ):
        self.template = template
        if template is not None and not args and "data" not in kwargs:
            kwargs.setdefault("initial", template.values())
        super().__init__(*args, project=project, **kwargs)
        self.initial.pop("submission_key", None)
        self.initial.pop("timezone", None)
        self.fields["name"].widget.attrs.update(maxlength=MAX_TEMPLATE_NAME, autocomplete="off")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if "\x00" in name:
            raise forms.ValidationError("The name cannot contain NUL characters.", code="nul")
        taken = self.project.incident_templates.filter(name__iexact=name)
        if self.template is not None:
            taken = taken.exclude(pk=self.template.pk)
        if taken.exists():
            raise forms.ValidationError(
                "This project already has a template with this name.", code="name_taken"
            )
        return name

    def times_limited_to_near_future(self) -> list[str]:
        return []

    def values(self) -> dict[str, Any]:
        """The template's fields, for services.incident_template_create / _change."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "impact": data["impact"],
            "title": data["title"],
            "description": data["description"],
            "monitors": data["monitors"],
            "exclude_from_downtime": data["exclude_from_downtime"],
        }
