"""The Phare REST API client: the only module that speaks HTTP (and imports httpx).

Docs: https://docs.phare.io/api-reference/introduction. Every failure is turned into a
PhareError subclass the UI can explain; nothing above this module sees httpx.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from incidents import credentials, ratelimit
from incidents.models import PhareProject

logger = logging.getLogger(__name__)

# The create contract uses snake_case; some rendered docs show camelCase. Accept both on read.
IMPACT_SPELLINGS = {
    "degradedPerformance": "degraded_performance",
    "partialOutage": "partial_outage",
    "majorOutage": "major_outage",
}
MONITORS_PER_PAGE = 100  # Phare's maximum per_page
MAX_PAGES = 1000  # a guard against a `links.next` that never ends
SYNC_PAGE_MAX_WAIT = 180.0  # a sync may pause this long for the rate budget between pages
CONNECT_ATTEMPTS = 3  # a connection that fails is tried again twice: 0.2 s, then 0.4 s later
CONNECT_BACKOFF_S = 0.2
CREATE_ATTEMPTS = 2  # a create refused with 429 is sent once more, after a short Retry-After
RECONCILE_PAGES = 5  # pages of recent incidents read when looking for an unanswered create
CHECK_ACCESS_MAX_WAIT = 2.0  # a connection check waits this long at most for the rate budget
PAGE_ATTEMPTS = 3  # a page refused with 429 is read again after Retry-After
BLOCK_WITHOUT_RETRY_AFTER = 60.0


class PhareError(Exception):
    """Base of every failure talking to Phare; `message` is safe to show to the user."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class PhareValidationError(PhareError):
    """422: Phare rejected the input; `field_errors` maps Phare's keys to messages."""

    def __init__(self, message: str, *, field_errors: dict[str, list[str]], body: Any = None):
        super().__init__(message, status=422, body=body)
        self.field_errors = field_errors


class PhareAuthError(PhareError):
    """401 (token rejected) or 403 (the token lacks a permission)."""


class PhareNotFound(PhareError):
    """404."""


class PhareRateLimited(PhareError):
    """Over Phare's 100 calls a minute: Phare's 429 (`status` 429), or the console holding back
    before sending anything (`status` None). `retry_after` in seconds when known."""

    def __init__(
        self, message: str, *, retry_after: int | None, status: int | None = 429, body: Any = None
    ):
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class PhareUnavailable(PhareError):
    """Phare could not be reached or failed (5xx); nothing was created."""


class PhareOutcomeUnknown(PhareError):
    """A write may have reached Phare but we cannot tell whether it took effect."""


class PhareBadResponse(PhareError):
    """Phare answered, but not with the JSON the contract describes."""


@dataclass(frozen=True)
class IncidentPayload:
    """The body of POST /uptime/incidents, exactly as the create contract describes it."""

    impact: str
    title: str
    exclude_from_downtime: bool
    description: str = ""
    incident_at: datetime | None = None
    recovery_at: datetime | None = None
    monitors: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Required keys always; optional keys only when given (no nulls, no empty list)."""
        body: dict[str, Any] = {
            "impact": self.impact,
            "title": self.title,
            "exclude_from_downtime": self.exclude_from_downtime,
        }
        if self.description:
            body["description"] = self.description
        if self.incident_at is not None:
            body["incident_at"] = _iso_utc(self.incident_at)
        if self.recovery_at is not None:
            body["recovery_at"] = _iso_utc(self.recovery_at)
        if self.monitors:
            body["monitors"] = list(self.monitors)
        return body


@dataclass(frozen=True)
class Incident:
    id: int
    slug: str
    title: str
    impact: str
    status: str
    state: str
    monitors: list[int]
    incident_at: datetime | None
    recovery_at: datetime | None
    created_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Phare's answer exactly as received, for the audit log."""


@dataclass(frozen=True)
class MonitorSummary:
    id: int
    name: str
    status: str
    paused: bool
    protocol: str
    target: str
    last_checked_at: datetime | None


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Phare times must be timezone-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_http_client: httpx.Client | None = None
_http_client_lock = threading.Lock()


def _shared_http_client() -> httpx.Client:
    """One connection pool per process; base URL and timeouts are read per call."""
    global _http_client
    with _http_client_lock:
        if _http_client is None:
            _http_client = httpx.Client(
                headers={"Accept": "application/json", "User-Agent": "phare-incident-console"},
                follow_redirects=False,
            )
        return _http_client


class PhareClient:
    """Calls Phare for one project, with its stored token and, for an organization-scoped
    token, the header naming the project."""

    def __init__(self, project: PhareProject):
        self.project = project
        # Seconds to wait here after a 429 the shared budget could not record (0: recorded).
        self._unrecorded_pause = 0.0

    def create_incident(self, payload: IncidentPayload) -> Incident:
        """POST /uptime/incidents. Never retried once the request may have reached Phare."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            response = self._send("POST", "/uptime/incidents", json=payload.to_json(), write=True)
            if response.status_code == 429 and attempt < CREATE_ATTEMPTS:
                # Phare refused it unread; sent again only if the wait is short. The budget
                # (blocked for Retry-After + 1 s) makes the next send wait.
                error = _error_for(response, write=True)
                if (
                    error.retry_after is None
                    or error.retry_after + 1 > settings.PHARE_WRITE_MAX_WAIT
                ):
                    raise error
                time.sleep(self._unrecorded_pause)  # 0 unless the budget could not record it
                continue
            break
        # The contract says 201; any success is read the same way, so a created incident is
        # never reported as a failure.
        if not response.is_success:
            raise _error_for(response, write=True)
        return _parse_incident(
            _json_body(response, write=True), write=True, status=response.status_code
        )

    def recent_incidents(self, *, since: datetime) -> list[Incident]:
        """The project's incidents created since `since`, newest first as Phare lists them, at
        most RECONCILE_PAGES pages. Items that do not describe an incident are skipped."""
        found: list[Incident] = []
        url: str | None = f"{self._api_url()}/uptime/incidents?per_page={MONITORS_PER_PAGE}"
        for _ in range(RECONCILE_PAGES):
            response = self._read_page(url, max_wait=CHECK_ACCESS_MAX_WAIT, on_wait=_ignore)
            body = _json_body(response, write=False)
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise PhareBadResponse("Phare's incident list did not have the expected shape.")
            page = [incident for item in items if (incident := _listed_incident(item))]
            found.extend(i for i in page if i.created_at is None or i.created_at >= since)
            older = [i for i in page if i.created_at is not None and i.created_at < since]
            url = (body.get("links") or {}).get("next")
            if older or not url or not items:
                break
            self._check_same_origin(url)
        return found

    def check_access(self) -> None:
        """The cheapest read that needs the token: the first monitor of the project. Raises the
        PhareError Phare's answer maps to (PhareAuthError for a 401 or 403)."""
        response = self._send("GET", "/uptime/monitors?per_page=1", max_wait=CHECK_ACCESS_MAX_WAIT)
        if response.status_code != 200:
            raise _error_for(response, write=False)
        _json_body(response, write=False)

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
        url: str | None = f"{self._api_url()}/uptime/monitors?per_page={MONITORS_PER_PAGE}"
        report = on_progress or (lambda message: None)
        for page in range(MAX_PAGES):
            read = f"{len(monitors)} monitors read"

            def on_wait(seconds: float, read: str = read) -> None:
                report(
                    f"{read}; pausing {math.ceil(seconds)} s to stay under Phare's limit of "
                    "100 calls a minute"
                )

            response = self._read_page(url, max_wait=max_wait, on_wait=on_wait)
            body = _json_body(response, write=False)
            try:
                monitors.extend(_parse_monitor(item) for item in body["data"])
                report(f"{len(monitors)} monitors read ({page + 1} pages)")
                url = body.get("links", {}).get("next")
            except (KeyError, TypeError, ValueError, AttributeError):
                raise PhareBadResponse(
                    "Phare's monitor list did not have the expected shape.",
                    status=response.status_code,
                ) from None
            if not url:
                return monitors
            if url == response.request.url:
                raise PhareBadResponse("Phare's monitor list pointed to the same page again.")
            self._check_same_origin(url)
            # Laravel's paginator may drop extra parameters from its links: keep 100 a page.
            url = str(httpx.URL(url).copy_set_param("per_page", MONITORS_PER_PAGE))
        raise PhareBadResponse(f"Phare's monitor list did not end after {MAX_PAGES} pages.")

    def _read_page(
        self, url: str, *, max_wait: float, on_wait: Callable[[float], None]
    ) -> httpx.Response:
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            response = self._send("GET", url, max_wait=max_wait, on_wait=on_wait)
            if response.status_code == 200:
                return response
            error = _error_for(response, write=False)
            if not isinstance(error, PhareRateLimited) or attempt == PAGE_ATTEMPTS:
                raise error
            if pause := self._unrecorded_pause:
                # The shared budget could not record the pause: wait here instead.
                if pause > max_wait:
                    raise error
                on_wait(pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _api_url(self) -> str:
        return settings.PHARE_API_URL

    def _check_same_origin(self, url: str) -> None:
        # The token must only ever be sent to the configured API.
        expected, actual = urlsplit(self._api_url()), urlsplit(url)
        if (expected.scheme, expected.netloc) != (actual.scheme, actual.netloc):
            raise PhareBadResponse("Phare's pagination link pointed to another host.")

    @sensitive_variables()
    def _headers(self) -> dict[str, str]:
        try:
            token = credentials.reveal_token(self.project)
        except credentials.CredentialError as error:
            raise PhareAuthError(str(error)) from None
        headers = {"Authorization": f"Bearer {token}"}
        if self.project.organization_key:
            if self.project.phare_project_id:
                headers["X-Phare-Project-Id"] = str(self.project.phare_project_id)
            elif self.project.phare_project_slug:
                headers["X-Phare-Project-Slug"] = self.project.phare_project_slug
        return headers

    def _wait_for_budget(
        self, *, write: bool, max_wait: float, on_wait: Callable[[float], None] | None
    ) -> None:
        kind = ratelimit.CallKind.WRITE if write else ratelimit.CallKind.READ
        try:
            ratelimit.acquire(self.project.rate_limit_key, kind, max_wait=max_wait, on_wait=on_wait)
        except ratelimit.BudgetExhausted as exhausted:
            seconds = math.ceil(exhausted.retry_after)
            raise PhareRateLimited(
                "The console is holding back to stay under Phare's limit of 100 calls a "
                f"minute; nothing was sent. Try again in {seconds} s.",
                retry_after=seconds,
                status=None,
            ) from None
        except Exception as error:
            if not write:
                # Reading without the budget could spend the room kept for creates.
                raise PhareUnavailable(
                    "The console's shared rate budget (Redis or the database) is unavailable, "
                    "so it is not reading from Phare now. Try again shortly."
                ) from None
            # A create goes ahead: an on-call engineer must not be stopped by Redis or a
            # locked database, and Phare's own 429 still protects Phare.
            logger.warning("rate budget unavailable (%s); creating anyway", type(error).__name__)

    def _note_rate_limited(self, response: httpx.Response) -> None:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        # Retry-After is rounded down and can read 0 in its last second: add one.
        seconds = retry_after + 1 if retry_after is not None else BLOCK_WITHOUT_RETRY_AFTER
        try:
            ratelimit.budget().block(self.project.rate_limit_key, seconds)
            self._unrecorded_pause = 0.0
        except Exception as error:
            logger.warning("rate budget unavailable (%s)", type(error).__name__)
            self._unrecorded_pause = seconds

    @sensitive_variables()
    def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        write: bool = False,
        max_wait: float | None = None,
        on_wait: Callable[[float], None] | None = None,
    ) -> httpx.Response:
        if url.startswith("/"):
            url = self._api_url() + url
        headers = self._headers()
        if max_wait is None:
            max_wait = settings.PHARE_WRITE_MAX_WAIT
        self._wait_for_budget(write=write, max_wait=max_wait, on_wait=on_wait)
        started = time.monotonic()
        try:
            response = self._request_with_connect_retries(method, url, json=json, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            raise PhareUnavailable(
                f"Phare could not be reached (connection failed {CONNECT_ATTEMPTS} times). "
                "Nothing was sent; it is safe to try again."
            ) from None
        except httpx.TimeoutException:
            if write:
                raise PhareOutcomeUnknown(
                    "Phare did not answer in time. The incident may have been created: check "
                    "Phare's incident list before trying again."
                ) from None
            raise PhareUnavailable("Phare did not answer in time.") from None
        except httpx.HTTPError as error:
            # The connection broke after the request was sent (or while sending).
            if write:
                raise PhareOutcomeUnknown(
                    "The connection to Phare broke before it answered. The incident may have "
                    "been created: check Phare's incident list before trying again."
                ) from None
            raise PhareUnavailable(
                f"The connection to Phare failed ({type(error).__name__})."
            ) from None
        except Exception as error:
            # Anything else (a header httpx cannot encode, a bad PHARE_API_URL) would end in a
            # 500 whose traceback shows the request headers, token included. The error's own
            # text is left out for the same reason.
            logger.error("calling Phare failed before an answer: %s", type(error).__name__)
            if write:
                raise PhareOutcomeUnknown(
                    "The call to Phare failed unexpectedly. Check Phare's incident list before "
                    "trying again, and tell the console's admins."
                ) from None
            raise PhareUnavailable(
                "The call to Phare failed unexpectedly; tell the console's admins."
            ) from None
        if response.status_code == 429:
            self._note_rate_limited(response)
        logger.info(
            "phare %s %s -> %s in %.0f ms",
            method,
            urlsplit(url).path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    @sensitive_variables()
    def _request_with_connect_retries(
        self, method: str, url: str, *, json: Any, headers: dict[str, str]
    ) -> httpx.Response:
        """A failed connection means the request never left: it is tried again, a bounded
        number of times with a growing pause. Anything after the connection is not repeated."""
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                return _shared_http_client().request(
                    method, url, json=json, headers=headers, timeout=_timeout()
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                logger.info("phare %s: connection failed, trying again", urlsplit(url).path)
                time.sleep(CONNECT_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")


def _timeout() -> httpx.Timeout:
    seconds = settings.PHARE_TIMEOUT
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def _json_body(response: httpx.Response, *, write: bool) -> Any:
    try:
        return response.json()
    except ValueError:
        if write and response.is_success:
            raise PhareOutcomeUnknown(
                f"Phare answered {response.status_code} but its body was not readable JSON. "
                "The incident was probably created: check Phare's incident list.",
                status=response.status_code,
                body=response.text[:2000],
            ) from None
        raise PhareBadResponse(
            f"Phare answered {response.status_code} with a body that is not JSON.",
            status=response.status_code,
            body=response.text[:2000],
        ) from None


def message_in(body: Any, default: str) -> str:
    """Phare's own `message` from an error body, or `default`."""
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return default


def _error_for(response: httpx.Response, *, write: bool) -> PhareError:
    """Map a non-success answer to its PhareError (see the errors in the Phare README)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = response.text[:2000]
    if status == 401:
        return PhareAuthError(
            "Phare rejected the project's token (401). Ask a project admin to set a valid token.",
            status=status,
            body=body,
        )
    if status == 403:
        return PhareAuthError(
            "The token lacks a permission (403): " + message_in(body, "Phare refused the action."),
            status=status,
            body=body,
        )
    if status == 404:
        return PhareNotFound(
            f"Phare answered 404 ({message_in(body, 'not found')}). Check the project's Phare id "
            "or slug in the admin.",
            status=status,
            body=body,
        )
    if status == 422:
        return PhareValidationError(
            message_in(body, "Phare rejected the incident."),
            field_errors=field_errors_from(body),
            body=body,
        )
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        wait = f" Try again in {retry_after + 1} s." if retry_after is not None else ""
        return PhareRateLimited(
            "Phare's rate limit (100 calls a minute per organization) was reached." + wait,
            retry_after=retry_after,
            body=body,
        )
    if write and status in (502, 504):
        # A gateway error: the request may have reached Phare's application.
        return PhareOutcomeUnknown(
            f"Phare's gateway answered {status}. The incident may have been created: check "
            "Phare's incident list before trying again.",
            status=status,
            body=body,
        )
    if status >= 500:
        return PhareUnavailable(
            f"Phare is having trouble ({status}). Try again in a moment.", status=status, body=body
        )
    return PhareBadResponse(
        f"Phare answered with an unexpected {status}.", status=status, body=body
    )


def field_errors_from(body: Any) -> dict[str, list[str]]:
    """Phare's 422 `errors` object as field -> messages, whatever shape it came in."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    result: dict[str, list[str]] = {}
    for key, messages in errors.items():
        if isinstance(messages, str):
            messages = [messages]
        if isinstance(messages, list):
            result[str(key)] = [str(message) for message in messages]
    return result


def _retry_after(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value is not None else None
    except ValueError:
        return None


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    return parse_datetime(value)


def _parse_incident(body: Any, *, write: bool, status: int) -> Incident:
    try:
        impact = body["impact"]
        return Incident(
            id=int(body["id"]),
            slug=str(body.get("slug") or ""),
            title=str(body["title"]),
            impact=IMPACT_SPELLINGS.get(impact, impact),
            status=str(body.get("status") or ""),
            state=str(body.get("state") or ""),
            monitors=[int(monitor) for monitor in body.get("monitors") or []],
            incident_at=_parse_time(body.get("incident_at")),
            recovery_at=_parse_time(body.get("recovery_at")),
            created_at=_parse_time(body.get("created_at")),
            raw=body,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        error_class = PhareOutcomeUnknown if write else PhareBadResponse
        raise error_class(
            "Phare's answer did not describe an incident as expected."
            + (" The incident was probably created: check Phare's incident list." if write else ""),
            status=status,
            body=body,
        ) from None


def _listed_incident(item: Any) -> Incident | None:
    """An incident from Phare's list, or None. Older documentation shows a single
    `uptime_monitor_id` instead of the `monitors` list: both are read."""
    if isinstance(item, dict) and "monitors" not in item and item.get("uptime_monitor_id"):
        item = {**item, "monitors": [item["uptime_monitor_id"]]}
    try:
        return _parse_incident(item, write=False, status=200)
    except PhareBadResponse:
        return None


def _ignore(*args: Any) -> None:
    pass


def _parse_monitor(item: dict[str, Any]) -> MonitorSummary:
    request = item.get("request") or {}
    if item.get("protocol") == "tcp" or "host" in request:
        target = f"{request.get('host', '')}:{request.get('port', '')}".strip(":")
    else:
        target = str(request.get("url") or "")
    return MonitorSummary(
        id=int(item["id"]),
        name=str(item["name"]),
        status=str(item.get("status") or ""),
        paused=bool(item.get("paused")),
        protocol=str(item.get("protocol") or ""),
        target=target,
        last_checked_at=_parse_time(item.get("last_checked_at")),
    )
