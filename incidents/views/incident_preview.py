"""Preview of a create: the create form validated as Create incident would, and the exact request
it would send (JSON body and curl command), with nothing sent to Phare."""

from django.http import HttpResponse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from incidents.forms import IncidentForm
from incidents.permissions import Capability
from incidents.services.incident_preview import incident_create_preview
from incidents.views._shared import HtmxHttpRequest, project_for_request, query_text
from incidents.views.projects import render_project_detail


@require_POST
@sensitive_post_parameters()
def incident_preview(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The panel again with everything typed and the same submission key (so Create after a
    Preview still creates once), and the preview or the form's errors; without JavaScript, the
    whole project page."""
    project = project_for_request(request, slug, Capability.RESPOND)
    form = IncidentForm(request.POST, project=project)
    search = query_text(request.POST.get("q", ""))
    if not form.is_valid():
        response = render_project_detail(request, project, form, search=search, status=422)
    else:
        preview = incident_create_preview(
            actor=request.user, project=project, payload=form.to_payload()
        )
        response = render_project_detail(request, project, form, search=search, preview=preview)
    if request.htmx:
        retarget(response, "#incident-panel")
        reswap(response, "outerHTML")
    return response
