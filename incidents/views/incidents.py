"""Incidents of a project: declaring one, the list, one incident and what responders do to it
(post an update, edit, mark recovered, delete). Pages read the console's copy of Phare's
incidents; every write goes through a service that sends it at most once."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget, trigger_client_event

from incidents import (
    duplicates,
    incident_prefill,
    incident_search,
    permissions,
    selectors,
    services,
)
from incidents.exceptions import EditConflict, NothingToChange, ReconciliationFailed
from incidents.forms import IncidentForm
from incidents.incident_forms import (
    IncidentDeleteForm,
    IncidentEditForm,
    IncidentRecoverForm,
    IncidentUpdateForm,
)
from incidents.models import AuditEntry, Impact, IncidentAttempt, PhareIncident, PhareProject
from incidents.permissions import Capability
from incidents.phare import (
    IncidentUpdatePayload,
    PhareError,
    PhareNotFound,
    PhareOutcomeUnknown,
    PhareValidationError,
)
from incidents.services import incident_copy
from incidents.views._shared import (
    MAX_ID,
    HtmxHttpRequest,
    project_for_request,
    query_text,
    status_for,
)
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
    refresh_retry_at = None
    if "refresh_monitors" in request.POST:
        refresh_retry_at = services.monitor_refresh(actor=request.user, project=project).retry_at
    form = IncidentForm.keeping_values(request.POST, project=project)
    search = query_text(request.POST.get("q", ""))
    return render_project_detail(
        request, project, form, search=search, refresh_retry_at=refresh_retry_at
    )


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters()
def incident_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    if request.method == "GET":
        return _incident_create_prefilled(request, slug)
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
            template_name=form.cleaned_data["incident_template"],
        )
    except services.DuplicateSuspected as suspected:
        return render_project_detail(request, project, form, duplicates=suspected.found, status=409)
    except PhareValidationError as error:
        form.add_phare_errors(error.field_errors, error.message)
        form.renew_submission_key()
        if any(key.startswith("monitors.") for key in error.field_errors):
            # Phare no longer knows a monitor the console offered: the copy is stale. An
            # automatic refresh (the responder's role was checked above): no cooldown applies.
            services.monitor_sync_start(actor=None, project=project)
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


def _incident_create_prefilled(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """A prefill link (an alert, a runbook, a template's button): the project page with the
    form filled from a template and the query (incident_prefill), never sent. What could not
    be used is listed above the form; the focus is on Create incident when all was."""
    project = project_for_request(request, slug)
    if not permissions.can(request.user, project, Capability.RESPOND):
        if request.htmx:
            raise PermissionDenied(permissions.REFUSALS[Capability.RESPOND])
        # The page as viewers see it, saying whom to ask; nothing of the link is shown.
        return render_project_detail(request, project, IncidentForm(project=project), status=403)
    if not request.GET:
        return redirect(project)
    if not request.htmx:
        # As opening the project page would.
        services.monitor_sync_if_stale(actor=request.user, project=project)
        duplicates.refresh_phare_copy_if_stale(project)
    prefill = incident_prefill.prefill_from(project, request.GET)
    form = IncidentForm(initial=prefill.initial, project=project)
    if prefill.zone_name:
        # The start was converted to this zone: the browser's must not replace it.
        form.fields["timezone"].widget.attrs["data-keep-timezone"] = ""
    return render_project_detail(
        request,
        project,
        form,
        prefill_warnings=prefill.warnings,
        autofocus="prefill_warnings" if prefill.warnings else "create",
    )


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
    context = {
        "created": attempt,
        "add_recent_row": first_time,
        "form": next_form,
        "project": project,
    }
    response = render(request, f"{FORM}#created_response", context)
    retarget(response, "#created-slot")
    reswap(response, "innerHTML")
    trigger_client_event(response, "incident-created", after="swap")
    return response


LIST = "incidents/incident_list.html"
DETAIL = "incidents/incident_detail.html"
GONE = "This incident no longer exists in Phare: it has been deleted there."


@require_http_methods(["GET", "POST"])
def incident_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The project's incidents, from the console's copy (the list refreshes it when due)."""
    if request.method == "POST":
        # Forms rendered before the list existed post the create here.
        return incident_create(request, slug)
    project = project_for_request(request, slug)
    incident_copy.incident_list_refresh_if_stale(project)
    filters = incident_search.IncidentFilters.from_query(request.GET)
    page = incident_search.page_of(
        project,
        filters,
        before=incident_search.Cursor.decode(request.GET.get("before", "")),
        after=incident_search.Cursor.decode(request.GET.get("after", "")),
    )
    context = {
        "project": project,
        "page": page,
        "filters": filters,
        "filter_query": filters.as_query(),
        "impacts": Impact.choices,
        "monitors": project.monitors.order_by("name").values_list("phare_id", "name"),
        "poll_seconds": settings.INCIDENT_POLL_SECONDS,
    }
    if request.htmx:
        return render(request, f"{LIST}#incident_results", context)
    return render(request, LIST, context)


@require_POST
def incident_list_refresh_start(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Refresh: read every page of Phare's list now, in the background."""
    project = project_for_request(request, slug)
    incident_copy.incident_list_refresh_start(actor=request.user, project=project)
    project.refresh_from_db()
    if request.htmx:
        return render(request, f"{LIST}#list_freshness", {"project": project})
    return redirect("incidents:incident_list", slug=project.slug)


def incident_for_request(
    request: HtmxHttpRequest, slug: str, incident_id: int, capability: Capability
) -> PhareIncident:
    """The incident, if the user may do `capability` in its project (404/403 as for projects).
    One not in the copy yet (made in Phare, not listed yet) is read from Phare once."""
    project = project_for_request(request, slug, capability)
    if incident_id > MAX_ID:
        raise Http404("No such incident.")
    incident = (
        PhareIncident.objects.select_related("project")
        .filter(project=project, phare_id=incident_id)
        .first()
    )
    if incident is None:
        try:
            incident = incident_copy.incident_refresh(project, incident_id)
        except PhareError:
            incident = None
    if incident is None:
        raise Http404("No such incident.")
    return incident


def render_incident_detail(
    request: HtmxHttpRequest,
    incident: PhareIncident,
    *,
    part: str = "",
    status: int = 200,
    update_form: IncidentUpdateForm | None = None,
    edit_form: IncidentEditForm | None = None,
    recover_form: IncidentRecoverForm | None = None,
    delete_form: IncidentDeleteForm | None = None,
    banner: str = "",
    notice: str = "",
    conflict: list | None = None,
    open_panel: str = "",
    search: str = "",
) -> HttpResponse:
    """The incident's page, or one part of it (`part`, a partial of DETAIL) for HTMX."""
    user, project = request.user, incident.project
    can_respond = permissions.can(user, project, Capability.RESPOND)
    updates = list(incident.updates.select_related("posted_by"))
    context: dict[str, Any] = {
        "project": project,
        "incident": incident,
        "updates": updates,
        "monitors": _monitors_of(incident),
        "declared_by": incident_search.declared_by(project, [incident.phare_id]).get(
            incident.phare_id, ""
        ),
        "audit_entries": AuditEntry.objects.filter(
            project=project, phare_incident_id=incident.phare_id
        ).order_by("-created_at", "-id")[:50],
        "can_respond": can_respond,
        "can_manage": permissions.can(user, project, Capability.MANAGE),
        "banner": banner,
        "notice": notice,
        "conflict": conflict,
        "open_panel": open_panel,
        "poll_seconds": settings.INCIDENT_POLL_SECONDS,
    }
    # The polled part shows no form: building them would cost queries on every poll.
    if can_respond and not incident.deleted_in_phare_at and part != "incident_live":
        latest_state = updates[0].state if updates else incident.state
        edit_form = edit_form or IncidentEditForm.for_incident(incident)
        selected = edit_form.selected_monitors()
        picked = [monitor.phare_id for monitor in selected]
        results, match_count = selectors.monitor_search(project, search, exclude_ids=picked)
        context.update(
            update_form=update_form or IncidentUpdateForm(latest_state=latest_state),
            form=edit_form,
            selected_monitors=selected,
            monitor_results=results,
            match_count=match_count,
            picked_match_count=selectors.monitor_picked_match_count(
                project, search, picked_ids=picked
            ),
            search=search,
            recover_form=recover_form or IncidentRecoverForm(),
        )
    if context["can_manage"] and part != "incident_live":
        context["delete_form"] = delete_form or IncidentDeleteForm(incident=incident)
    if part and request.htmx:
        # The polled part brings the audit entries beside it up to date too.
        context["audit_out_of_band"] = part == "incident_live"
        return render(request, f"{DETAIL}#{part}", context, status=status)
    return render(request, DETAIL, context, status=status)


def _monitors_of(incident: PhareIncident) -> list[dict[str, Any]]:
    known = {
        m.phare_id: m for m in incident.project.monitors.filter(phare_id__in=incident.monitors)
    }
    return [
        {"id": monitor_id, "monitor": known.get(monitor_id)} for monitor_id in incident.monitors
    ]


@require_GET
def incident_detail(request: HtmxHttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident = incident_for_request(request, slug, incident_id, Capability.VIEW)
    incident_copy.incident_refresh_if_stale(incident)
    part = "incident_live" if request.GET.get("live") else ""
    return render_incident_detail(request, incident, part=part)


@dataclass
class ActionPanel:
    """One action's part of the incident's page (post update, edit, recover, delete): the
    answers its view gives, each rendering the part again with what was typed."""

    request: HtmxHttpRequest
    incident: PhareIncident
    part: str
    form_name: str  # the render_incident_detail argument that carries the form
    form: Any
    open_panel: str = ""

    def render(self, status: int, **extra: Any) -> HttpResponse:
        arguments = {self.form_name: self.form, "open_panel": self.open_panel} | extra
        return render_incident_detail(
            self.request, self.incident, part=self.part, status=status, **arguments
        )

    def invalid(self) -> HttpResponse:
        return self.render(422)

    def already_handled(self, already: services.SubmissionAlreadyHandled) -> HttpResponse | None:
        """None when the earlier press was done: this one shows the same success."""
        if already.attempt.state == IncidentAttempt.State.DONE:
            return None
        return self.render(409, banner=already.message)

    def failed(self, error: PhareError) -> HttpResponse:
        """A write Phare refused or did not clearly answer."""
        if isinstance(error, PhareNotFound):
            incident_copy.mark_deleted(self.incident)
            return self.render(409, banner=GONE)
        banner = error.message
        if isinstance(error, PhareOutcomeUnknown | ReconciliationFailed):
            banner += (
                " Press the button again: the console looks in Phare first, then sends if needed."
            )
        return self.render(status_for(error), banner=banner)

    def done(self, notice: str) -> HttpResponse:
        if not self.request.htmx:
            return redirect(self.incident.get_absolute_url())
        self.incident.refresh_from_db()
        response = render_incident_detail(
            self.request, self.incident, part=self.part, notice=notice, open_panel=self.open_panel
        )
        trigger_client_event(response, "incident-changed")  # the live part shows the change
        return response


@require_POST
def incident_edit(request: HtmxHttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident = incident_for_request(request, slug, incident_id, Capability.RESPOND)
    form = IncidentEditForm(request.POST, project=incident.project)
    panel = ActionPanel(request, incident, "incident_edit_panel", "edit_form", form, "edit")
    if not request.htmx and "save" not in request.POST:
        # Without JavaScript the monitor search and refresh post the whole form: keep what was
        # typed, apply the search, send nothing to Phare.
        if "refresh_monitors" in request.POST:
            services.monitor_sync_start(actor=request.user, project=incident.project)
        panel.form = IncidentEditForm.keeping_values(request.POST, project=incident.project)
        return render_incident_detail(
            request,
            incident,
            edit_form=panel.form,
            search=query_text(request.POST.get("q", "")),
            open_panel="edit",
        )
    if not form.is_valid():
        return panel.invalid()
    try:
        services.incident_edit(
            actor=request.user,
            incident=incident,
            values=form.changed_values(),
            base=form.cleaned_data["base"],
            submission_key=form.cleaned_data["submission_key"],
        )
    except NothingToChange:
        form.add_error(None, "Nothing changed: every field is as it is in Phare.")
        return panel.invalid()
    except EditConflict as conflict:
        incident.refresh_from_db()
        panel.form = IncidentEditForm.on_top_of(conflict.current, form)
        return panel.render(409, conflict=conflict.changes)
    except PhareValidationError as error:
        form.add_phare_errors(error.field_errors, error.message)
        form.renew_submission_key()
        return panel.invalid()
    except services.SubmissionAlreadyHandled as already:
        if answer := panel.already_handled(already):
            return answer
    except PhareError as error:
        return panel.failed(error)
    return panel.done("Changes saved.")


@require_POST
def incident_recover(request: HtmxHttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident = incident_for_request(request, slug, incident_id, Capability.RESPOND)
    form = IncidentRecoverForm(request.POST)
    panel = ActionPanel(
        request, incident, "incident_recover_panel", "recover_form", form, "recover"
    )
    if not form.is_valid():
        return panel.invalid()
    try:
        if message := form.cleaned_data["message"].strip():
            _post_resolved_update(request, incident, message, form)
        services.incident_recover(
            actor=request.user,
            incident=incident,
            submission_key=form.cleaned_data["submission_key"],
        )
    except PhareValidationError as error:
        form.add_error(None, error.message)
        for texts in error.field_errors.values():
            for text in texts:
                form.add_error(None, text)
        form.renew_submission_key()
        return panel.invalid()
    except services.SubmissionAlreadyHandled as already:
        if answer := panel.already_handled(already):
            return answer
    except PhareError as error:
        return panel.failed(error)
    return panel.done("Marked recovered.")


def _post_resolved_update(
    request: HtmxHttpRequest, incident: PhareIncident, message: str, form: IncidentRecoverForm
) -> None:
    """The optional "Resolved" update, posted before the recovery, under its own key (pressing
    again after a failed recovery does not post it twice)."""
    try:
        services.incident_update_create(
            actor=request.user,
            incident=incident,
            payload=IncidentUpdatePayload(state="resolved", content=message),
            submission_key=form.cleaned_data["update_submission_key"],
        )
    except services.SubmissionAlreadyHandled as already:
        if already.attempt.state != IncidentAttempt.State.DONE:
            raise
    except PhareValidationError:
        # Refused: the corrected message is a new update. (Only then: an update that was
        # posted keeps its key, so pressing again after a failed recovery never reposts it.)
        form.renew_submission_key("update_submission_key")
        raise


@require_POST
def incident_delete(request: HtmxHttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident = incident_for_request(request, slug, incident_id, Capability.MANAGE)
    form = IncidentDeleteForm(request.POST, incident=incident)
    panel = ActionPanel(request, incident, "incident_delete_panel", "delete_form", form, "delete")
    if not form.is_valid():
        return panel.invalid()
    try:
        services.incident_delete(
            actor=request.user,
            incident=incident,
            submission_key=form.cleaned_data["submission_key"],
        )
    except services.SubmissionAlreadyHandled as already:
        if answer := panel.already_handled(already):
            return answer
    except PhareNotFound:
        incident_copy.mark_deleted(incident)  # gone already: what the person wanted
    except PhareError as error:
        return panel.failed(error)
    messages.success(request, f"Incident {incident.slug or incident.phare_id} deleted in Phare.")
    url = reverse("incidents:incident_list", kwargs={"slug": incident.project.slug})
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
