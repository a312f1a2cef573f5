"""The timeline of an incident: posting an update."""

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from incidents import services
from incidents.incident_forms import IncidentUpdateForm
from incidents.permissions import Capability
from incidents.phare import PhareError, PhareValidationError
from incidents.views._shared import HtmxHttpRequest
from incidents.views.incidents import ActionPanel, incident_for_request


@require_POST
def incident_update_create(request: HtmxHttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident = incident_for_request(request, slug, incident_id, Capability.RESPOND)
    form = IncidentUpdateForm(request.POST)
    panel = ActionPanel(request, incident, "incident_update_panel", "update_form", form)
    if not form.is_valid():
        return panel.invalid()
    try:
        services.incident_update_create(
            actor=request.user,
            incident=incident,
            payload=form.to_payload(),
            submission_key=form.cleaned_data["submission_key"],
        )
    except PhareValidationError as error:
        add_phare_errors(form, error)
        form.renew_submission_key()
        return panel.invalid()
    except services.SubmissionAlreadyHandled as already:
        if answer := panel.already_handled(already):
            return answer
    except PhareError as error:
        return panel.failed(error)
    return panel.done("Update posted.")


def add_phare_errors(form: IncidentUpdateForm, error: PhareValidationError) -> None:
    """Phare's 422 under the field it names; the rest above the form."""
    if not error.field_errors:
        form.add_error(None, error.message)
    for key, texts in error.field_errors.items():
        name = key.partition(".")[0]
        for text in texts:
            form.add_error(name if name in ("state", "content", "published_at") else None, text)
