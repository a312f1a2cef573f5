"""The audit log: search, one entry, and exports of the current filter."""

from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents import audit_search, selectors
from incidents.models import AuditEntry
from incidents.views._shared import HtmxHttpRequest


@require_GET
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
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
        "projects": selectors.project_list_for_user(request.user).values_list("slug", "name"),
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
def audit_export(request: HtmxHttpRequest, file_format: str) -> StreamingHttpResponse:
    """The current filter's entries, newest first, streamed (constant memory)."""
    chunks, content_type = EXPORTS[file_format]
    filters = audit_search.AuditFilters.from_query(request.GET)
    # Called here, not by the first iteration: the query runs before the response starts.
    response = StreamingHttpResponse(chunks(request.user, filters), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.{file_format}"'
    return response


@require_GET
def audit_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    entries = audit_search.entries_for(request.user, audit_search.AuditFilters())
    entry = get_object_or_404(entries.select_related("project", "attempt"), pk=pk)
    incident_url = ""
    if entry.phare_incident_id and settings.PHARE_INCIDENT_URL:
        # Phare chose the slug: encoded, it cannot add a path, query or fragment to the link.
        incident_url = settings.PHARE_INCIDENT_URL.format(
            id=quote(str(entry.phare_incident_id), safe=""),
            slug=quote(entry.phare_incident_slug, safe=""),
        )
    same_submission = (
        entries.filter(attempt=entry.attempt).order_by("created_at", "id")
        if entry.attempt_id
        else []
    )
    context = {"entry": entry, "incident_url": incident_url, "same_submission": same_submission}
    return render(request, "incidents/audit_detail.html", context)
