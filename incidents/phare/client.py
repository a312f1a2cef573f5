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
    PhareAuthError,
    PhareBadResponse,
    PhareRateLimited,
    WriteKind,
)
from incidents.phare.schemas import (
    TOKEN_VARIABLE,
    Incident,
    IncidentPage,
    IncidentPayload,
    IncidentUpdate,
    IncidentUpdatePayload,
    MonitorSummary,
    RequestPreview,
    parse_incident,
    parse_incident_update,
    parse_monitor,
)
from incidents.phare.transport import PhareTransport, error_for, json_body

MAX_PAGES = 1000  # a guard against a `links.next` that never ends
SYNC_PAGE_MAX_WAIT = 180.0  # a sync may pause this long for the rate budget between pages
CREATE_ATTEMPTS = 2  # a create refused with 429 is sent once more, after a short Retry-After
RECENT_PAGES = 5  # pages of incidents read for the duplicate check's copy
RECONCILE_PAGES = 20  # pages of incidents read at most when looking for an unanswered create
CHECK_ACCESS_MAX_WAIT = 2.0  # a connection check waits this long at most for the rate budget
PER_PAGE = 100  # Phare's maximum per_page
REFRESH_MAX_WAIT = 10.0  # a read of one incident or page waits this long at most for the budget
MAX_UPDATE_PAGES = 100  # a guard against an incident's timeline whose `links.next` never ends
# How create_incident calls Phare; describe_create_request shows the same.
CREATE_METHOD, CREATE_PATH = "POST", "/uptime/incidents"


def describe_create_request(project: PhareProject, payload: IncidentPayload) -> RequestPreview:
    """What PhareClient.create_incident would send for `payload`: method, full URL, headers
    (the token as $PHARE_TOKEN) and body. Sends nothing."""
    transport = PhareTransport(project)
    shown_token = f"${TOKEN_VARIABLE}"
    problem = ""
    try:
        headers = transport.shown_headers(shown_token)
    except PhareAuthError as error:
        headers, problem = transport.shown_headers(shown_token, name_project=False), error.message
    # httpx adds it for a JSON body.
    headers["Content-Type"] = "application/json"
    return RequestPreview(
        method=CREATE_METHOD,
        url=transport.api_url() + CREATE_PATH,
        headers=headers,
        body=payload.to_json(),
        problem=problem,
    )


class PhareClient:
    """Calls Phare for one project."""

    def __init__(self, project: PhareProject):
        self.project = project
        self._transport = PhareTransport(project)

    def create_incident(self, payload: IncidentPayload) -> Incident:
        """POST /uptime/incidents. Never retried once the request may have reached Phare."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            response = self._transport.send(
                CREATE_METHOD,
                CREATE_PATH,
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
        """The project's incidents created since `since` (or without a creation time) among the
        first RECENT_PAGES pages of GET /uptime/incidents: a hint, for the duplicate check. No
        order is documented, so with more pages than that the oldest or newest may be missing.
        An item or page that cannot be read is a PhareBadResponse."""
        return self._incidents_since(since, monitor_ids=(), max_pages=RECENT_PAGES, every=False)

    def incidents_created_since(
        self, *, since: datetime, monitor_ids: Sequence[int] = ()
    ) -> list[Incident]:
        """Every incident of the project created since `since` (or without a creation time),
        only those of `monitor_ids` when given (Phare's `monitor_id` filter narrows the pages to
        read; the caller still compares the monitors, should Phare ignore it). No order is
        documented, so every page is read; more than RECONCILE_PAGES pages, an item or a page
        that cannot be read, is a PhareBadResponse: an incident is never missed silently."""
        return self._incidents_since(
            since, monitor_ids=monitor_ids, max_pages=RECONCILE_PAGES, every=True
        )

    def _incidents_since(
        self, since: datetime, *, monitor_ids: Sequence[int], max_pages: int, every: bool
    ) -> list[Incident]:
        found: list[Incident] = []
        seen: set[int] = set()
        for page in range(1, max_pages + 1):
            query = [("per_page", PER_PAGE), ("page", page)]
            query += [("monitor_id", monitor_id) for monitor_id in monitor_ids]
            response = self._transport.read_page(
                f"/uptime/incidents?{urlencode(query)}",
                max_wait=CHECK_ACCESS_MAX_WAIT,
                on_wait=_ignore,
            )
            items, has_next = _page_of(json_body(response, write=False), "incident list", page)
            # An incident seen on an earlier page (the list shifted while read) counts once.
            new = [incident for incident in _incidents_in(items) if incident.id not in seen]
            seen.update(incident.id for incident in new)
            found.extend(i for i in new if i.created_at is None or i.created_at >= since)
            if not has_next:
                return found
            if not new:
                raise PhareBadResponse(
                    f"Phare's incident list gave the same page again (page {page} listed no new "
                    "incident) and said more pages follow."
                )
        if not every:
            return found
        raise PhareBadResponse(
            f"Phare lists more than {max_pages * PER_PAGE} incidents to look through (in no "
            "documented order, so each would have to be read). Check Phare's incident list: if "
            "the incident is not there, reload the form and create it again."
        )

    def list_incidents_page(self, page: int, *, monitor_ids: Sequence[int] = ()) -> IncidentPage:
        """One page of GET /uptime/incidents, 100 a page, newest first as Phare lists them,
        optionally only those of `monitor_ids`. An item that does not describe an incident is a
        PhareBadResponse: a page shown to people is never silently shorter."""
        query = [("per_page", PER_PAGE), ("page", page)]
        query += [("monitor_id", monitor_id) for monitor_id in monitor_ids]
        body = self._read(f"/uptime/incidents?{urlencode(query)}")
        items, has_next = _page_of(body, "incident list", page)
        return IncidentPage(items=_incidents_in(items), has_next=has_next)

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
            items, has_next = _page_of(body, "list of incident updates", page)
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
        """Every monitor of the project: GET /uptime/monitors at the maximum page size, page
        by page while `links.next` is set (Phare gives no total count). The link itself is not
        followed (it may be relative, or name the host behind a proxy), so the token only goes
        to PHARE_API_URL. Pauses between pages when the rate budget runs low, and reads a page
        again after a 429. `on_progress` hears a sentence for people after each page and before
        each pause."""
        monitors: list[MonitorSummary] = []
        seen: set[int] = set()
        report = on_progress or (lambda message: None)
        for page in range(1, MAX_PAGES + 1):
            read = f"{len(monitors)} monitors read"

            def on_wait(seconds: float, read: str = read) -> None:
                report(
                    f"{read}; pausing {math.ceil(seconds)} s to stay under Phare's limit of "
                    "100 calls a minute"
                )

            query = urlencode([("per_page", PER_PAGE), ("page", page)])
            response = self._transport.read_page(
                f"/uptime/monitors?{query}", max_wait=max_wait, on_wait=on_wait
            )
            items, has_next = _page_of(json_body(response, write=False), "monitor list", page)
            # A monitor seen on an earlier page (the list shifted while read) counts once.
            new = [monitor for monitor in map(parse_monitor, items) if monitor.id not in seen]
            seen.update(monitor.id for monitor in new)
            monitors.extend(new)
            report(f"{len(monitors)} monitors read ({page} pages)")
            if not has_next:
                return monitors
            if not new:
                raise PhareBadResponse(
                    f"Phare's monitor list gave the same page again (page {page} listed no new "
                    "monitor) and said more pages follow."
                )
        raise PhareBadResponse(f"Phare's monitor list did not end after {MAX_PAGES} pages.")


def _ignore(*args: Any) -> None:
    pass


def _page_of(body: Any, what: str, page: int) -> tuple[list[Any], bool]:
    """The items of page `page` of a Phare list, and whether another page follows: `links.next`
    holds an address (null or absent: the last page). Anything else, or a page that says it is
    another one (`meta.current_page`), is a PhareBadResponse."""
    items = body.get("data") if isinstance(body, dict) else None
    links = body.get("links") if isinstance(body, dict) else None
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(items, list) or not isinstance(links, dict | None):
        raise PhareBadResponse(f"Phare's {what} did not have the expected shape.", body=body)
    next_link = (links or {}).get("next")
    if next_link is not None and not (isinstance(next_link, str) and next_link):
        raise PhareBadResponse(
            f"Phare's {what} did not have the expected shape (links.next).", body=body
        )
    current = meta.get("current_page") if isinstance(meta, dict) else None
    if type(current) is int and current != page:
        raise PhareBadResponse(
            f"Phare answered page {current} of its {what} when asked for page {page}.", body=body
        )
    return items, next_link is not None


def _incidents_in(items: list[Any]) -> list[Incident]:
    """The incidents of one page; an item that does not describe one is a PhareBadResponse."""
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
    return incidents
