"""A project's incident templates, managed by its admins: the list, a new one, changing one,
deleting one (after a confirmation). Plain forms that work without JavaScript; the monitor
picker is the create form's."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from incidents import selectors, services
from incidents.incident_template_forms import IncidentTemplateForm
from incidents.models import IncidentTemplate, PhareProject
from incidents.permissions import Capability
from incidents.views._shared import HtmxHttpRequest, project_for_request, query_text

LIST = "incidents/incident_template_list.html"
FORM = "incidents/incident_template_form.html"
CONFIRM_DELETE = "incidents/incident_template_confirm_delete.html"


def prefill_url(project: PhareProject, template: IncidentTemplate) -> str:
    """The link that opens the create form filled from `template` (for runbooks and alerts)."""
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    return f"{url}?{urlencode({'template': template.name})}"


def _template_for_request(
    request: HtmxHttpRequest, slug: str, template_id: int
) -> tuple[PhareProject, IncidentTemplate]:
    project = project_for_request(request, slug, Capability.MANAGE)
    template = project.incident_templates.filter(pk=template_id).first()
    if template is None:
        raise Http404("No such template.")
    return project, template


@require_GET
def incident_template_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = project_for_request(request, slug, Capability.MANAGE)
    templates = [
        (template, request.build_absolute_uri(prefill_url(project, template)))
        for template in project.incident_templates.all()
    ]
    return render(request, LIST, {"project": project, "templates": templates})


@require_http_methods(["GET", "POST"])
def incident_template_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = project_for_request(request, slug, Capability.MANAGE)
    return _form_page(request, project, None)


@require_http_methods(["GET", "POST"])
def incident_template_change(request: HtmxHttpRequest, slug: str, template_id: int) -> HttpResponse:
    project, template = _template_for_request(request, slug, template_id)
    return _form_page(request, project, template)


def _form_page(
    request: HtmxHttpRequest, project: PhareProject, template: IncidentTemplate | None
) -> HttpResponse:
    """The form: shown (GET), shown again with a monitor search applied and everything typed
    kept (a POST without "save": the picker without JavaScript), or saved."""
    search = ""
    if request.method == "GET":
        form = IncidentTemplateForm(project=project, template=template)
    elif "save" not in request.POST:
        if "refresh_monitors" in request.POST:
            services.monitor_sync_start(actor=request.user, project=project)
        form = IncidentTemplateForm.keeping_values(request.POST, project=project)
        search = query_text(request.POST.get("q", ""))
    else:
        form = IncidentTemplateForm(request.POST, project=project, template=template)
        if form.is_valid():
            try:
                if template is None:
                    template = services.incident_template_create(
                        actor=request.user, project=project, values=form.values()
                    )
                else:
                    services.incident_template_change(
                        actor=request.user, template=template, changes=form.values()
                    )
            except ValidationError as error:
                _add_model_errors(form, error)
            else:
                messages.success(request, f"Template “{template.name}” saved.")
                return redirect("incidents:incident_template_list", slug=project.slug)
    return _render_form(request, project, template, form, search)


def _add_model_errors(form: IncidentTemplateForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _render_form(
    request: HtmxHttpRequest,
    project: PhareProject,
    template: IncidentTemplate | None,
    form: IncidentTemplateForm,
    search: str,
) -> HttpResponse:
    selected = form.selected_monitors()
    results, match_count = selectors.monitor_search(
        project, search, exclude_ids=[monitor.phare_id for monitor in selected]
    )
    form_url = (
        reverse("incidents:incident_template_create", kwargs={"slug": project.slug})
        if template is None
        else reverse(
            "incidents:incident_template_change",
            kwargs={"slug": project.slug, "template_id": template.pk},
        )
    )
    context = {
        "project": project,
        "template": template,
        "form": form,
        "form_url": form_url,
        "selected_monitors": selected,
        "monitor_results": results,
        "match_count": match_count,
        "search": search,
    }
    status = 422 if form.is_bound and form.errors else 200
    return render(request, FORM, context, status=status)


@require_http_methods(["GET", "POST"])
def incident_template_delete(request: HtmxHttpRequest, slug: str, template_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    project, template = _template_for_request(request, slug, template_id)
    if request.method == "GET":
        return render(request, CONFIRM_DELETE, {"project": project, "template": template})
    services.incident_template_delete(actor=request.user, template=template)
    messages.success(request, f"Template “{template.name}” deleted.")
    return redirect("incidents:incident_template_list", slug=project.slug)
