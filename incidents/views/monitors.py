"""The monitor picker: search the project's copy of its monitors, and refresh that copy."""

from datetime import datetime

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from incidents import selectors, services
from incidents.models import PhareProject
from incidents.permissions import Capability
from incidents.views._shared import HtmxHttpRequest, positive_int, project_for_request, query_text

PICKER = "incidents/partials/monitor_picker.html"


@require_GET
def monitor_search(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = project_for_request(request, slug, Capability.RESPOND)
    selected = [positive_int(value) for value in request.GET.getlist("monitors")[:200]]
    picked = [monitor_id for monitor_id in selected if monitor_id]
    query = query_text(request.GET.get("q", ""))
    results, match_count = selectors.monitor_search(project, query, exclude_ids=picked)
    context = {
        "project": project,
        "monitor_results": results,
        "match_count": match_count,
        "picked_match_count": selectors.monitor_picked_match_count(
            project, query, picked_ids=picked
        ),
    }
    return render(request, f"{PICKER}#monitor_results", context)


@require_POST
def monitor_sync_start(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = project_for_request(request, slug, Capability.RESPOND)
    requested = services.monitor_refresh(actor=request.user, project=project)
    return _sync_status_response(request, project, refresh_retry_at=requested.retry_at)


@require_GET
def monitor_sync_status(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The refresh's status line; polled while a refresh runs."""
    return _sync_status_response(request, project_for_request(request, slug, Capability.RESPOND))


def _sync_status_response(
    request: HtmxHttpRequest, project: PhareProject, *, refresh_retry_at: datetime | None = None
) -> HttpResponse:
    context = {"project": project, "refresh_retry_at": refresh_retry_at}
    response = render(request, f"{PICKER}#monitor_sync_status", context)
    if not project.monitors_syncing:
        # The search box listens for this and reloads its results from the new copy.
        trigger_client_event(response, "monitors-refreshed")
    return response
