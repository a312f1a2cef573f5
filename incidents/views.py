"""Thin views: find the project, bind the form, call one service, pick page or partial."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from incidents import audit_search, duplicates, permissions, selectors, services
from incidents.forms import IncidentForm
from incidents.models import AuditEntry, IncidentAttempt, PhareProject
from incidents.permissions import Capability
from incidents.phare import (
    PhareError,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareUnavailable,
    PhareValidationError,
)

FORM_PAGE = "incidents/incident_form.html"
# The create form's id in FORM_PAGE; htmx sends it as HX-Trigger.
INCIDENT_FORM_ID = "incident-form"
TRY_AGAIN = (
    "Press “Create incident” again to retry: the console first looks for this incident in "
    "Phare and sends it only if it is not there."
)
MAX_ID = 2**63 - 1


def _positive_int(value: str) -> int | None:
    """A database id from a query string, or None for anything else ("²", "-1", "1e9")."""
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def _query_text(value: str, *, limit: int = 200) -> str:
    """Free text from a query string, without the NUL bytes PostgreSQL refuses."""
    return value.replace("\x00", "")[:limit]


def _project_for(
    request: HttpRequest, slug: str, capability: Capability = Capability.VIEW
) -> PhareProject:
    """The project, if the user may see it (404 otherwise, so names do not leak), and may do
    `capability` in it (403)."""
    project = selectors.project_for_user(request.user, slug)
    if project is None:
        raise Http404("No such project.")
    permissions.require(request.user, project, capability)
    return project


def _status_for(error: PhareError) -> int:
    """Our answer's status for a failed call to Phare; base.html tells htmx to show these."""
    if isinstance(error, services.ReconciliationFailed):
        return _status_for(error.cause)
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
    add_recent_row: bool = False,
    banner: str = "",
    status: int = 200,
    search: str = "",
    connection: services.ConnectionCheck | None = None,
    duplicates: list | None = None,
) -> HttpResponse:
    can_respond = permissions.can(request.user, project, Capability.RESPOND)
    selected_monitors = form.selected_monitors() if can_respond else []
    results, match_count = (
        selectors.monitor_search(
            project, search, exclude_ids=[monitor.phare_id for monitor in selected_monitors]
        )
        if can_respond
        else ([], 0)
    )
    context = {
        "can_respond": can_respond,
        "project": project,
        "form": form,
        "selected_monitors": selected_monitors,
        "monitor_results": results,
        "match_count": match_count,
        "created": created,
        "add_recent_row": add_recent_row,
        "banner": banner,
        "search": search,
        "can_manage": permissions.can(request.user, project, Capability.MANAGE),
        "connection": connection,
        "duplicates": duplicates,
        "duplicate_window": settings.DUPLICATE_WINDOW_MINUTES,
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
    projects = selectors.project_list_with_monitor_counts(request.user)
    return render(request, "incidents/home.html", {"projects": projects})


@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug)
    if permissions.can(request.user, project, Capability.RESPOND):
        services.monitor_sync_if_stale(actor=request.user, project=project)
        duplicates.refresh_phare_copy_if_stale(project)
    created = None
    if created_id := _positive_int(request.GET.get("created", "")):
        created = project.attempts.filter(
            pk=created_id, state=IncidentAttempt.State.CREATED
        ).first()
    return _render_form_page(request, project, IncidentForm(project=project), created=created)


@require_POST
def incident_form_reload(request: HttpRequest, slug: str) -> HttpResponse:
    """Without JavaScript, searching or refreshing monitors posts the whole form here: the page
    comes back with the search applied and everything typed kept. Nothing is sent to Phare
    but the monitor list read."""
    project = _project_for(request, slug, Capability.RESPOND)
    if "refresh_monitors" in request.POST:
        services.monitor_sync_start(actor=request.user, project=project)
    form = IncidentForm.keeping_values(request.POST, project=project)
    search = _query_text(request.POST.get("q", ""))
    return _render_form_page(request, project, form, search=search)


@require_POST
@sensitive_post_parameters()
def incident_create(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug, Capability.RESPOND)
    form = IncidentForm(request.POST, project=project)
    if not form.is_valid():
        return _render_form_page(request, project, form, status=422)
    try:
        attempt = services.incident_create(
            actor=request.user,
            project=project,
            payload=form.to_payload(),
            submission_key=form.cleaned_data["submission_key"],
            allow_duplicate=request.POST.get("confirm_duplicate") == "1",
        )
    except services.DuplicateSuspected as suspected:
        return _render_form_page(request, project, form, duplicates=suspected.found, status=409)
    except PhareValidationError as error:
        form.add_phare_errors(error.field_errors, error.message)
        form.renew_submission_key()
        if any(key.startswith("monitors.") for key in error.field_errors):
            # Phare no longer knows a monitor the console offered: the copy is stale.
            services.monitor_sync_start(actor=request.user, project=project)
        banner = "Phare did not accept the incident. Fix what is marked below and create again."
        return _render_form_page(request, project, form, banner=banner, status=422)
    except services.SubmissionAlreadyHandled as already:
        if already.attempt.state != IncidentAttempt.State.CREATED:
            return _render_form_page(request, project, form, banner=already.message, status=409)
        # The same form again (double click, browser retry): show the first result.
        return _created_response(request, project, already.attempt, first_time=False)
    except PhareError as error:
        # The key stays: pressing the button again looks for the incident in Phare before
        # sending anything, so a retry can never create a second incident.
        banner = f"{error.message} {TRY_AGAIN}"
        return _render_form_page(request, project, form, banner=banner, status=_status_for(error))
    return _created_response(request, project, attempt, first_time=True)


def _created_response(
    request: HttpRequest, project: PhareProject, attempt: IncidentAttempt, *, first_time: bool
) -> HttpResponse:
    if not request.htmx:
        return redirect(f"{project.get_absolute_url()}?created={attempt.pk}")
    next_form = IncidentForm(project=project)
    if request.htmx.trigger != INCIDENT_FORM_ID:
        # A page served before the short answer existed (tabs stay open across deploys) has no
        # #created-slot: it gets the whole panel again, with a fresh form.
        return _render_form_page(
            request, project, next_form, created=attempt, add_recent_row=first_time
        )
    # Only what changed: the result, the next submission key and the new recent row. The
    # script clears the form the person typed into (console.js, "incident-created"), so the
    # panel and its monitor list are not rendered again.
    context = {"created": attempt, "add_recent_row": first_time, "form": next_form}
    response = render(request, f"{FORM_PAGE}#created_response", context)
    retarget(response, "#created-slot")
    reswap(response, "innerHTML")
    trigger_client_event(response, "incident-created", after="swap")
    return response


@require_GET
def monitor_search(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug, Capability.RESPOND)
    selected = [_positive_int(value) for value in request.GET.getlist("monitors")[:200]]
    results, match_count = selectors.monitor_search(
        project,
        _query_text(request.GET.get("q", "")),
        exclude_ids=[monitor_id for monitor_id in selected if monitor_id],
    )
    context = {"project": project, "monitor_results": results, "match_count": match_count}
    return render(request, f"{FORM_PAGE}#monitor_results", context)


@require_POST
def monitor_refresh(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug, Capability.RESPOND)
    services.monitor_sync_start(actor=request.user, project=project)
    return _sync_status_response(request, project)


@require_GET
def monitor_sync_status(request: HttpRequest, slug: str) -> HttpResponse:
    """The refresh's status line; polled while a refresh runs."""
    return _sync_status_response(request, _project_for(request, slug, Capability.RESPOND))


def _sync_status_response(request: HttpRequest, project: PhareProject) -> HttpResponse:
    response = render(request, f"{FORM_PAGE}#monitor_sync_status", {"project": project})
    if not project.monitors_syncing:
        # The search box listens for this and reloads its results from the new copy.
        trigger_client_event(response, "monitors-refreshed")
    return response


@require_POST
def connection_check(request: HttpRequest, slug: str) -> HttpResponse:
    """Admins check the stored token with one cheap read; without JavaScript the project page
    comes back with the result."""
    project = _project_for(request, slug, Capability.MANAGE)
    connection = services.connection_check(actor=request.user, project=project)
    if request.htmx:
        context = {"project": project, "connection": connection}
        return render(request, f"{FORM_PAGE}#connection_result", context)
    return _render_form_page(request, project, IncidentForm(project=project), connection=connection)


@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    filters = audit_search.AuditFilters.from_query(request.GET)
    page = audit_search.page_of(
        request.user,
        filters,
        before=audit_search.Cursor.decode(request.GET.get("before", "")),
        after=audit_search.Cursor.decode(request.GET.get("after", "")),
    )
    context = {
        "page": page,
        "filters": filters,
        "filter_query": filters.as_query(),
        "projects": selectors.project_list_for_user(request.user),
        "actions": AuditEntry.Action.choices,
        "outcomes": AuditEntry.Outcome.choices,
    }
    if request.htmx:
        return render(request, "incidents/audit_list.html#audit_results", context)
    return render(request, "incidents/audit_list.html", context)


EXPORTS = {
    "csv": (audit_search.csv_chunks, "text/csv; charset=utf-8"),
    "jsonl": (audit_search.json_lines_chunks, "application/x-ndjson; charset=utf-8"),
}


@require_GET
def audit_export(request: HttpRequest, file_format: str) -> HttpResponse:
    """The current filter's entries, newest first, streamed (constant memory)."""
    chunks, content_type = EXPORTS[file_format]
    filters = audit_search.AuditFilters.from_query(request.GET)
    response = StreamingHttpResponse(chunks(request.user, filters), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.{file_format}"'
    return response


@require_GET
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entries = audit_search.entries_for(request.user, audit_search.AuditFilters())
    entry = get_object_or_404(entries.select_related("project", "attempt"), pk=pk)
    incident_url = ""
    if entry.phare_incident_id and settings.PHARE_INCIDENT_URL:
        incident_url = settings.PHARE_INCIDENT_URL.format(
            id=entry.phare_incident_id, slug=entry.phare_incident_slug
        )
    same_submission = (
        entries.filter(attempt=entry.attempt).order_by("created_at", "id")
        if entry.attempt_id
        else []
    )
    context = {"entry": entry, "incident_url": incident_url, "same_submission": same_submission}
    return render(request, "incidents/audit_detail.html", context)


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


def login_locked_out(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a login past LOGIN_FAILURE_LIMIT failures (a 429)."""
    context = {
        "username": (credentials or {}).get("username", ""),
        "minutes": max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)),
    }
    return render(request, "registration/locked_out.html", context, status=429)
