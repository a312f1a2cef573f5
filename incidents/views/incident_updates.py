"""The timeline of an incident: posting an update."""

from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from incidents import services
from incidents.incident_forms import IncidentUpdateForm
from incidents.models import IncidentAttempt
from incidents.permissions import Capability
from incidents.phare import PhareError, PhareValidationError
from incidents.views._shared import HtmxHttpRequest
from incidents.views.incidents import incident_for_request, render_incident_detail, write_failed


@require_POST
def incident_update_create(request: HtmxHttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident = incident_for_request(request, slug, incident_id, Capability.RESPOND)
    form = IncidentUpdateForm(request.POST)
    part = "incident_update_panel"
    if not form.is_valid():
        return render_incident_detail(request, incident, part=part, update_form=form, status=422)
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
        return render_incident_detail(request, incident, part=part, update_form=form, status=422)
    except services.SubmissionAlreadyHandled as already:
        if already.attempt.state != IncidentAttempt.State.DONE:
            return render_incident_detail(
                request, incident, part=part, update_form=form, banner=already.message, status=409
            )
    except PhareError as error:
        return write_failed(request, incident, error, part=part, update_form=form)
    if not request.htmx:
        return redirect(incident.get_absolute_url())
    incident.refresh_from_db()
    response = render_incident_detail(request, incident, part=part, notice="Update posted.")
    trigger_client_event(response, "incident-changed")  # the timeline is in the live part
    return response


def add_phare_errors(form: IncidentUpdateForm, error: PhareValidationError) -> None:
    """Phare's 422 under the field it names; the rest above the form."""
    if not error.field_errors:
        form.add_error(None, error.message)
    for key, texts in error.field_errors.items():
        name = key.partition(".")[0]
        for text in texts:
            form.add_error(name if name in ("state", "content", "published_at") else None, text)
