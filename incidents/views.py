"""Thin views: find the project, bind the form, call one service, pick page or partial."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from incidents import selectors, services
from incidents.forms import IncidentForm
from incidents.models import AuditEntry, IncidentAttempt, PhareProject
from incidents.phare import (
    PhareAuthError,
    PhareError,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareUnavailable,
    PhareValidationError,
)

FORM_PAGE = "incidents/incident_form.html"
AUDIT_PAGE_SIZE = 50


def _project_for(request: HttpRequest, slug: str) -> PhareProject:
    return get_object_or_404(selectors.project_list_for_user(request.user), slug=slug)


def _status_for(error: PhareError) -> int:
    """Our answer's status for a failed call to Phare; base.html tells htmx to show these."""
    if isinstance(error, PhareRateLimited):
        return 429
    if isinstance(error, PhareUnavailable):
        return 503
    if isinstance(error, PhareOutcomeUnknown):
        return 504
    return 502


def _render_form_page(
    request: HttpRequest,
    project: PhareProject,
    form: IncidentForm,
    *,
    created: IncidentAttempt | None = None,
    banner: str = "",
    status: int = 200,
) -> HttpResponse:
    selected_monitors = form.selected_monitors()
    results, match_count = selectors.monitor_search(
        project, "", exclude_ids=[monitor.phare_id for monitor in selected_monitors]
    )
    context = {
        "project": project,
        "form": form,
        "selected_monitors": selected_monitors,
        "monitor_results": results,
        "match_count": match_count,
        "created": created,
        "banner": banner,
    }
    if request.htmx:
        return render(request, f"{FORM_PAGE}#incident_panel_response", context, status=status)
    context.update(
        projects=selectors.project_list_for_user(request.user),
        recent=selectors.recent_incidents(project),
    )
    return render(request, FORM_PAGE, context, status=status)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list_for_user(request.user)
    return render(request, "incidents/home.html", {"projects": projects})


@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug)
    created = None
    if (created_id := request.GET.get("created", "")).isdigit():
        created = project.attempts.filter(
            pk=int(created_id), state=IncidentAttempt.State.CREATED
        ).first()
    return _render_form_page(request, project, IncidentForm(project=project), created=created)


@require_POST
@sensitive_post_parameters()
def incident_create(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug)
    form = IncidentForm(request.POST, project=project)
    if not form.is_valid():
        return _render_form_page(request, project, form, status=422)
    try:
        attempt = services.incident_create(
            actor=request.user,
            project=project,
            payload=form.to_payload(),
            submission_key=form.cleaned_data["submission_key"],
        )
    except PhareValidationError as error:
        form.add_phare_errors(error.field_errors)
        banner = "Phare did not accept the incident. Fix the fields marked below."
        return _render_form_page(request, project, form, banner=banner, status=422)
    except services.SubmissionAlreadyHandled as already:
        if already.attempt.state != IncidentAttempt.State.CREATED:
            return _render_form_page(request, project, form, banner=already.message, status=409)
        attempt = already.attempt
    except PhareError as error:
        banner = error.message
        if isinstance(error, PhareAuthError):
            banner += " Your input is kept below."
        return _render_form_page(request, project, form, banner=banner, status=_status_for(error))

    if request.htmx:
        return _render_form_page(request, project, IncidentForm(project=project), created=attempt)
    return redirect(f"{project.get_absolute_url()}?created={attempt.pk}")


@require_GET
def monitor_search(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug)
    selected = [int(value) for value in request.GET.getlist("monitors") if value.isdigit()]
    results, match_count = selectors.monitor_search(
        project, request.GET.get("q", "")[:200], exclude_ids=selected
    )
    context = {"project": project, "monitor_results": results, "match_count": match_count}
    return render(request, f"{FORM_PAGE}#monitor_results", context)


@require_POST
def monitor_refresh(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug)
    try:
        result = services.monitor_sync(actor=request.user, project=project)
    except PhareError as error:
        refresh_error = f"The monitor list was not refreshed: {error.message}"
        if request.htmx:
            return render(
                request,
                f"{FORM_PAGE}#monitor_sync_status",
                {"project": project, "refresh_error": refresh_error},
            )
        messages.error(request, refresh_error)
    else:
        if request.htmx:
            response = render(
                request,
                f"{FORM_PAGE}#monitor_sync_status",
                {"project": project, "sync_result": result},
            )
            # The search box listens for this and reloads its results.
            return trigger_client_event(response, "monitors-refreshed")
        messages.success(request, f"Monitor list refreshed: {result.total} monitors.")
    return redirect(project)


@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    filters = {
        "project_slug": request.GET.get("project", ""),
        "actor": request.GET.get("actor", ""),
        "outcome": request.GET.get("outcome", ""),
    }
    entries = selectors.audit_entries_for(request.user, **filters)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "filter_query": query.urlencode(),
        "projects": selectors.project_list_for_user(request.user),
        "outcomes": AuditEntry.Outcome.choices,
    }
    return render(request, "incidents/audit_list.html", context)


@require_GET
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(selectors.audit_entries_for(request.user), pk=pk)
    return render(request, "incidents/audit_detail.html", {"entry": entry})


@require_GET
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: the database, not Phare (Phare being down is no reason to stop
    sending traffic here)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
