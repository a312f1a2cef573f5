"""The console's start page and a project's page: the create form, recent incidents, and the
admins' connection check."""

from datetime import datetime

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from incidents import duplicates, permissions, selectors, services
from incidents.forms import IncidentForm
from incidents.models import IncidentAttempt, PhareProject
from incidents.permissions import Capability
from incidents.phare import RequestPreview
from incidents.views._shared import HtmxHttpRequest, positive_int, project_for_request

PAGE = "incidents/project_detail.html"
FORM = "incidents/incident_form.html"


def render_project_detail(
    request: HtmxHttpRequest,
    project: PhareProject,
    form: IncidentForm,
    *,
    created: IncidentAttempt | None = None,
    add_recent_row: bool = False,
    banner: str = "",
    status: int = 200,
    search: str = "",
    connection: services.ConnectionCheck | None = None,
    duplicates: list | None = None,
    refresh_retry_at: datetime | None = None,
    preview: RequestPreview | None = None,
    prefill_warnings: list[str] | None = None,
    autofocus: str = "",
) -> HttpResponse:
    """`autofocus`: what has the focus once shown, "template" (the first template's button),
    "create" (the Create button, after a template or a link filled the form) or
    "prefill_warnings" (what a link held that was not used)."""
    can_respond = permissions.can(request.user, project, Capability.RESPOND)
    selected_monitors = form.selected_monitors() if can_respond else []
    picked = [monitor.phare_id for monitor in selected_monitors]
    results, match_count = (
        selectors.monitor_search(project, search, exclude_ids=picked) if can_respond else ([], 0)
    )
    context = {
        "can_respond": can_respond,
        "project": project,
        "form": form,
        "selected_monitors": selected_monitors,
        "monitor_results": results,
        "match_count": match_count,
        "picked_match_count": selectors.monitor_picked_match_count(
            project, search, picked_ids=picked
        ),
        "created": created,
        "add_recent_row": add_recent_row,
        "banner": banner,
        "search": search,
        "can_manage": permissions.can(request.user, project, Capability.MANAGE),
        "connection": connection,
        "duplicates": duplicates,
        "refresh_retry_at": refresh_retry_at,
        "duplicate_window": settings.DUPLICATE_WINDOW_MINUTES,
        "preview": preview,
        "incident_templates": project.incident_templates.all() if can_respond else [],
        "prefill_warnings": prefill_warnings,
        "autofocus": autofocus,
    }
    if request.htmx:
        return render(request, f"{FORM}#incident_panel_response", context, status=status)
    context.update(
        projects=selectors.project_list_for_user(request.user),
        recent=selectors.attempt_list_created(project),
    )
    return render(request, PAGE, context, status=status)


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    projects = selectors.project_list_with_monitor_counts(request.user)
    return render(request, "incidents/home.html", {"projects": projects})


@require_GET
def project_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = project_for_request(request, slug)
    if permissions.can(request.user, project, Capability.RESPOND):
        services.monitor_sync_if_stale(actor=request.user, project=project)
        duplicates.refresh_phare_copy_if_stale(project)
    created = None
    if created_id := positive_int(request.GET.get("created", "")):
        created = project.attempts.filter(
            pk=created_id, state=IncidentAttempt.State.CREATED
        ).first()
    return render_project_detail(
        request,
        project,
        IncidentForm(project=project),
        created=created,
        autofocus="" if created else "template",
    )


@require_POST
def project_connection_check(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Admins check the stored token with one cheap read; without JavaScript the project page
    comes back with the result."""
    project = project_for_request(request, slug, Capability.MANAGE)
    connection = services.project_connection_check(actor=request.user, project=project)
    if request.htmx:
        context = {"project": project, "connection": connection}
        return render(request, f"{PAGE}#connection_result", context)
    return render_project_detail(
        request, project, IncidentForm(project=project), connection=connection
    )
