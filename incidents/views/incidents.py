"""Incidents of a project: declaring one (and the no-JavaScript form reload)."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from incidents import services
from incidents.forms import IncidentForm
from incidents.models import IncidentAttempt, PhareProject
from incidents.permissions import Capability
from incidents.phare import PhareError, PhareValidationError
from incidents.views._shared import HtmxHttpRequest, project_for_request, query_text, status_for
from incidents.views.projects import FORM, render_project_detail

# The create form's id in FORM; htmx sends it as HX-Trigger.
INCIDENT_FORM_ID = "incident-form"


TRY_AGAIN = (
    "Press “Create incident” again to retry: the console first looks for this incident in "
    "Phare and sends it only if it is not there."
)


@require_POST
def incident_form_reload(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Without JavaScript, searching or refreshing monitors posts the whole form here: the page
    comes back with the search applied and everything typed kept. Nothing is sent to Phare
    but the monitor list read."""
    project = project_for_request(request, slug, Capability.RESPOND)
    if "refresh_monitors" in request.POST:
        services.monitor_sync_start(actor=request.user, project=project)
    form = IncidentForm.keeping_values(request.POST, project=project)
    search = query_text(request.POST.get("q", ""))
    return render_project_detail(request, project, form, search=search)


@require_POST
@sensitive_post_parameters()
def incident_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = project_for_request(request, slug, Capability.RESPOND)
    form = IncidentForm(request.POST, project=project)
    if not form.is_valid():
        return render_project_detail(request, project, form, status=422)
    try:
        attempt = services.incident_create(
            actor=request.user,
            project=project,
            payload=form.to_payload(),
            submission_key=form.cleaned_data["submission_key"],
            allow_duplicate=request.POST.get("confirm_duplicate") == "1",
        )
    except services.DuplicateSuspected as suspected:
        return render_project_detail(request, project, form, duplicates=suspected.found, status=409)
    except PhareValidationError as error:
        form.add_phare_errors(error.field_errors, error.message)
        form.renew_submission_key()
        if any(key.startswith("monitors.") for key in error.field_errors):
            # Phare no longer knows a monitor the console offered: the copy is stale.
            services.monitor_sync_start(actor=request.user, project=project)
        banner = "Phare did not accept the incident. Fix what is marked below and create again."
        return render_project_detail(request, project, form, banner=banner, status=422)
    except services.SubmissionAlreadyHandled as already:
        if already.attempt.state != IncidentAttempt.State.CREATED:
            return render_project_detail(request, project, form, banner=already.message, status=409)
        # The same form again (double click, browser retry): show the first result.
        return _created_response(request, project, already.attempt, first_time=False)
    except PhareError as error:
        # The key stays: pressing the button again looks for the incident in Phare before
        # sending anything, so a retry can never create a second incident.
        banner = f"{error.message} {TRY_AGAIN}"
        return render_project_detail(
            request, project, form, banner=banner, status=status_for(error)
        )
    return _created_response(request, project, attempt, first_time=True)


def _created_response(
    request: HtmxHttpRequest, project: PhareProject, attempt: IncidentAttempt, *, first_time: bool
) -> HttpResponse:
    if not request.htmx:
        return redirect(f"{project.get_absolute_url()}?created={attempt.pk}")
    next_form = IncidentForm(project=project)
    if request.htmx.trigger != INCIDENT_FORM_ID:
        # A page served before the short answer existed (tabs stay open across deploys) has no
        # #created-slot: it gets the whole panel again, with a fresh form.
        return render_project_detail(
            request, project, next_form, created=attempt, add_recent_row=first_time
        )
    # Only what changed: the result, the next submission key and the new recent row. The
    # script clears the form the person typed into (console.js, "incident-created"), so the
    # panel and its monitor list are not rendered again.
    context = {"created": attempt, "add_recent_row": first_time, "form": next_form}
    response = render(request, f"{FORM}#created_response", context)
    retarget(response, "#created-slot")
    reswap(response, "innerHTML")
    trigger_client_event(response, "incident-created", after="swap")
    return response
