"""PhareClient: one method per Phare endpoint the console uses, named like the sandbox's route.

Docs: https://docs.phare.io/api-reference/introduction. Every failure is a PhareError; nothing
above this package sees HTTP.
"""

import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from incidents.models import PhareProject
from incidents.phare.errors import (
    CREATE_INCIDENT,
    CREATE_INCIDENT_UPDATE,
    DELETE_INCIDENT,
    EDIT_INCIDENT,
    INCIDENT_GONE,
    RECOVER_INCIDENT,
    PhareBadResponse,
    PhareRateLimited,
    WriteKind,
)
from incidents.phare.schemas import (
    Incident,
    IncidentPage,
    IncidentPayload,
    IncidentUpdate,
    IncidentUpdatePayload,
    MonitorSummary,
    parse_incident,
    parse_incident_update,
    parse_listed_incident,
    parse_monitor,
)
from incidents.phare.transport import PhareTransport, error_for, json_body, with_query_param

MONITORS_PER_PAGE = 100  # Phare's maximum per_page
MAX_PAGES = 1000  # a guard against a `links.next` that never ends
SYNC_PAGE_MAX_WAIT = 180.0  # a sync may pause this long for the rate budget between pages
CREATE_ATTEMPTS = 2  # a create refused with 429 is sent once more, after a short Retry-After
RECONCILE_PAGES = 5  # pages of recent incidents read when looking for an unanswered create
CHECK_ACCESS_MAX_WAIT = 2.0  # a connection check waits this long at most for the rate budget
PER_PAGE = 100  # Phare's maximum per_page
REFRESH_MAX_WAIT = 10.0  # a read of one incident or page waits this long at most for the budget
MAX_UPDATE_PAGES = 100  # a guard against an incident's timeline whose `links.next` never ends


class PhareClient:
    """Calls Phare for one project."""

    def __init__(self, project: PhareProject):
        self.project = project
        self._transport = PhareTransport(project)

    def create_incident(self, payload: IncidentPayload) -> Incident:
        """POST /uptime/incidents. Never retried once the request may have reached Phare."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            response = self._transport.send(
                "POST",
                "/uptime/incidents",
                json=payload.to_json(),
                write=True,
                write_kind=CREATE_INCIDENT,
            )
            if response.status_code == 429 and attempt < CREATE_ATTEMPTS:
                # Phare refused it unread; sent again only if the wait is short. The budget
                # (blocked for Retry-After + 1 s) makes the next send wait.
                error = error_for(response, write=True)
                if (
                    not isinstance(error, PhareRateLimited)
                    or error.retry_after is None
                    or error.retry_after + 1 > settings.PHARE_WRITE_MAX_WAIT
                ):
                    raise error
                # 0 unless the budget could not record the 429
                time.sleep(self._transport.unrecorded_pause)
                continue
            break
        # The contract says 201; any success is read the same way, so a created incident is
        # never reported as a failure.
        if not response.is_success:
            raise error_for(response, write=True)
        return parse_incident(
            json_body(response, write=True), write=True, status=response.status_code
        )

    def list_incidents(self, *, since: datetime) -> list[Incident]:
        """The project's incidents created since `since`, newest first as Phare lists them, at
        most RECONCILE_PAGES pages. Items that do not describe an incident are skipped."""
        found: list[Incident] = []
        url = f"{self._transport.api_url()}/uptime/incidents?per_page={MONITORS_PER_PAGE}"
        for _ in range(RECONCILE_PAGES):
            response = self._transport.read_page(
                url, max_wait=CHECK_ACCESS_MAX_WAIT, on_wait=_ignore
            )
            body = json_body(response, write=False)
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise PhareBadResponse("Phare's incident list did not have the expected shape.")
            page = [incident for item in items if (incident := parse_listed_incident(item))]
            found.extend(i for i in page if i.created_at is None or i.created_at >= since)
            older = [i for i in page if i.created_at is not None and i.created_at < since]
            next_url = (body.get("links") or {}).get("next")
            if older or not next_url or not items:
                break
            self._transport.check_same_origin(next_url)
            url = next_url
        return found

    def list_incidents_page(self, page: int, *, monitor_ids: Sequence[int] = ()) -> IncidentPage:
        """One page of GET /uptime/incidents, 100 a page, newest first as Phare lists them,
        optionally only those of `monitor_ids`. An item that does not describe an incident is a
        PhareBadResponse: a page shown to people is never silently shorter."""
        query = [("per_page", PER_PAGE), ("page", page)]
        query += [("monitor_id", monitor_id) for monitor_id in monitor_ids]
        body = self._read(f"/uptime/incidents?{urlencode(query)}")
        items, has_next = _page_of(body, "incident list")
        incidents = []
        for item in items:
            try:
                incidents.append(parse_incident(item, write=False, status=200))
            except PhareBadResponse:
                raise PhareBadResponse(
                    "Phare's incident list held an item that does not describe an incident.",
                    status=200,
                    body=item,
                ) from None
        return IncidentPage(items=incidents, has_next=has_next)

    def get_incident(self, incident_id: int) -> Incident:
        """GET /uptime/incidents/{id}; PhareNotFound when it was deleted in Phare."""
        body = self._read(f"/uptime/incidents/{int(incident_id)}", not_found=INCIDENT_GONE)
        return parse_incident(body, write=False, status=200)

    def edit_incident(self, incident_id: int, body: dict[str, Any]) -> Incident:
        """POST /uptime/incidents/{id} (Phare edits with POST) with a body from
        `incident_edit_body`. Never retried once the request may have reached Phare."""
        response = self._write(
            "POST", f"/uptime/incidents/{int(incident_id)}", EDIT_INCIDENT, json=body
        )
        return parse_incident(
            json_body(response, write=True, write_kind=EDIT_INCIDENT),
            write=True,
            status=response.status_code,
            write_kind=EDIT_INCIDENT,
        )

    def recover_incident(self, incident_id: int) -> None:
        """POST /uptime/incidents/{id}/recover, without a body. The contract answers 204; any
        success counts and its body is not read."""
        self._write("POST", f"/uptime/incidents/{int(incident_id)}/recover", RECOVER_INCIDENT)

    def delete_incident(self, incident_id: int) -> None:
        """DELETE /uptime/incidents/{id}; any success counts and its body is not read."""
        self._write("DELETE", f"/uptime/incidents/{int(incident_id)}", DELETE_INCIDENT)

    def create_incident_update(
        self, incident_id: int, payload: IncidentUpdatePayload
    ) -> IncidentUpdate:
        """POST /uptime/incidents/{id}/updates: a new entry on the incident's timeline."""
        response = self._write(
            "POST",
            f"/uptime/incidents/{int(incident_id)}/updates",
            CREATE_INCIDENT_UPDATE,
            json=payload.to_json(),
        )
        return parse_incident_update(
            json_body(response, write=True, write_kind=CREATE_INCIDENT_UPDATE),
            write=True,
            status=response.status_code,
        )

    def list_incident_updates(self, incident_id: int) -> list[IncidentUpdate]:
        """Every update of the incident, in Phare's order, from GET /uptime/incidents/{id}/updates
        at 100 a page. Pages are asked for by number while `links.next` is set; the link itself
        is not followed, so the token only ever goes to the configured API."""
        updates: list[IncidentUpdate] = []
        for page in range(1, MAX_UPDATE_PAGES + 1):
            query = urlencode([("per_page", PER_PAGE), ("page", page)])
            body = self._read(
                f"/uptime/incidents/{int(incident_id)}/updates?{query}", not_found=INCIDENT_GONE
            )
            items, has_next = _page_of(body, "list of incident updates")
            for item in items:
                try:
                    updates.append(parse_incident_update(item, write=False, status=200))
                except PhareBadResponse:
                    raise PhareBadResponse(
                        "Phare's list of incident updates held an item that does not describe "
                        "an update.",
                        status=200,
                        body=item,
                    ) from None
            if not has_next:
                return updates
        raise PhareBadResponse(
            f"Phare's list of incident updates did not end after {MAX_UPDATE_PAGES} pages."
        )

    def _read(self, path: str, *, not_found: str | None = None) -> Any:
        """A GET through the read budget (read again after a 429), as JSON."""
        response = self._transport.read_page(
            path, max_wait=REFRESH_MAX_WAIT, on_wait=_ignore, not_found=not_found
        )
        return json_body(response, write=False)

    def _write(self, method: str, path: str, write_kind: WriteKind, *, json: Any = None) -> Any:
        """A write sent once: any answer but a success is raised as its PhareError (a 429
        included), a 404 as the incident being gone."""
        response = self._transport.send(method, path, json=json, write=True, write_kind=write_kind)
        if not response.is_success:
            raise error_for(response, write=True, write_kind=write_kind, not_found=INCIDENT_GONE)
        return response

    def check_access(self) -> None:
        """The cheapest read that needs the token: the first monitor of the project. Raises the
        PhareError Phare's answer maps to (PhareAuthError for a 401 or 403)."""
        response = self._transport.send(
            "GET", "/uptime/monitors?per_page=1", max_wait=CHECK_ACCESS_MAX_WAIT
        )
        if response.status_code != 200:
            raise error_for(response, write=False)
        json_body(response, write=False)

    def list_monitors(
        self,
        *,
        max_wait: float = SYNC_PAGE_MAX_WAIT,
        on_progress: Callable[[str], None] | None = None,
    ) -> list[MonitorSummary]:
        """Every monitor of the project: GET /uptime/monitors, following `links.next`
        (Phare gives no total count) at the maximum page size. Pauses between pages when the
        rate budget runs low, and reads a page again after a 429. `on_progress` hears a
        sentence for people after each page and before each pause."""
        monitors: list[MonitorSummary] = []
        url = f"{self._transport.api_url()}/uptime/monitors?per_page={MONITORS_PER_PAGE}"
        report = on_progress or (lambda message: None)
        for page in range(MAX_PAGES):
            read = f"{len(monitors)} monitors read"

            def on_wait(seconds: float, read: str = read) -> None:
                report(
                    f"{read}; pausing {math.ceil(seconds)} s to stay under Phare's limit of "
                    "100 calls a minute"
                )

            response = self._transport.read_page(url, max_wait=max_wait, on_wait=on_wait)
            body = json_body(response, write=False)
            try:
                monitors.extend(parse_monitor(item) for item in body["data"])
                report(f"{len(monitors)} monitors read ({page + 1} pages)")
                next_url = body.get("links", {}).get("next")
            except (KeyError, TypeError, ValueError, AttributeError):
                raise PhareBadResponse(
                    "Phare's monitor list did not have the expected shape.",
                    status=response.status_code,
                ) from None
            if not next_url:
                return monitors
            if next_url == response.request.url:
                raise PhareBadResponse("Phare's monitor list pointed to the same page again.")
            self._transport.check_same_origin(next_url)
            # Laravel's paginator may drop extra parameters from its links: keep 100 a page.
            url = with_query_param(next_url, "per_page", MONITORS_PER_PAGE)
        raise PhareBadResponse(f"Phare's monitor list did not end after {MAX_PAGES} pages.")


def _ignore(*args: Any) -> None:
    pass


def _page_of(body: Any, what: str) -> tuple[list[Any], bool]:
    """The items of one page of a Phare list, and whether `links.next` names another page."""
    items = body.get("data") if isinstance(body, dict) else None
    links = body.get("links") if isinstance(body, dict) else None
    if not isinstance(items, list) or not isinstance(links, dict | None):
        raise PhareBadResponse(f"Phare's {what} did not have the expected shape.", body=body)
    return items, bool((links or {}).get("next"))
