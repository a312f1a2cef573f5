"""How the console talks HTTP to Phare: the only module that imports httpx.

One connection pool per process, timeouts from settings, the project's token and headers, the
shared rate budget, connection retries, and the mapping of every answer that is not a success
to a PhareError. Docs: https://docs.phare.io/api-reference/introduction.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from incidents import credentials, ratelimit
from incidents.models import PhareProject
from incidents.phare.errors import (
    CREATE_INCIDENT,
    PhareAuthError,
    PhareBadResponse,
    PhareError,
    PhareNotFound,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareUnavailable,
    PhareValidationError,
    WriteKind,
    field_errors_from,
    message_in,
)

logger = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3  # a connection that fails is tried again twice: 0.2 s, then 0.4 s later
CONNECT_BACKOFF_S = 0.2
PAGE_ATTEMPTS = 3  # a page refused with 429 is read again after Retry-After
BLOCK_WITHOUT_RETRY_AFTER = 60.0
# Sent with every request, by the shared connection pool.
DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "phare-incident-console"}


class PhareTransport:
    """Sends requests to Phare for one project, with its stored token and, for an
    organization-scoped token, the header naming the project."""

    def __init__(self, project: PhareProject):
        self.project = project
        # Seconds to wait here after a 429 the shared budget could not record (0: recorded).
        self.unrecorded_pause = 0.0

    @sensitive_variables()
    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        write: bool = False,
        write_kind: WriteKind = CREATE_INCIDENT,
        max_wait: float | None = None,
        on_wait: Callable[[float], None] | None = None,
    ) -> httpx.Response:
        """One request to `path` on PHARE_API_URL (never another host: the token goes there
        only). `write_kind` words the unknown outcome of a write (`write=True`)."""
        if not path.startswith("/"):
            raise ValueError("Phare is called by path, on PHARE_API_URL only.")
        url = self.api_url() + path
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
                    f"Phare did not answer in time. {write_kind.may_have}"
                ) from None
            raise PhareUnavailable("Phare did not answer in time.") from None
        except httpx.HTTPError as error:
            # The connection broke after the request was sent (or while sending).
            if write:
                raise PhareOutcomeUnknown(
                    f"The connection to Phare broke before it answered. {write_kind.may_have}"
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
                    f"The call to Phare failed unexpectedly. {write_kind.unexpected}"
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

    def read_page(
        self,
        path: str,
        *,
        max_wait: float,
        on_wait: Callable[[float], None],
        not_found: str | None = None,
    ) -> httpx.Response:
        """A GET answered 200, read again after a 429 (PAGE_ATTEMPTS in all); any other answer
        is raised as its PhareError, a 404 with `not_found` as its message when given."""
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            response = self.send("GET", path, max_wait=max_wait, on_wait=on_wait)
            if response.status_code == 200:
                return response
            error = error_for(response, write=False, not_found=not_found)
            if not isinstance(error, PhareRateLimited) or attempt == PAGE_ATTEMPTS:
                raise error
            if pause := self.unrecorded_pause:
                # The shared budget could not record the pause: wait here instead.
                if pause > max_wait:
                    raise error
                on_wait(pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def api_url(self) -> str:
        return settings.PHARE_API_URL

    @sensitive_variables()
    def _headers(self) -> dict[str, str]:
        try:
            token = credentials.reveal_token(self.project)
        except credentials.CredentialError as error:
            raise PhareAuthError(str(error)) from None
        return {"Authorization": f"Bearer {token}"} | self._project_header(token)

    @sensitive_variables()
    def shown_headers(self, token_shown: str, *, name_project: bool = True) -> dict[str, str]:
        """Every header `send` puts on a request, with `token_shown` in place of the token, for
        showing the request to a person. The token is read only to tell an organization key by
        its prefix. PhareAuthError when an organization key names no project (`send` would
        send nothing); `name_project=False` leaves that header out."""
        try:
            token = credentials.reveal_token(self.project)
        except credentials.CredentialError:
            token = ""
        project_header = self._project_header(token) if name_project else {}
        return {"Authorization": f"Bearer {token_shown}"} | project_header | DEFAULT_HEADERS

    def _project_header(self, token: str) -> dict[str, str]:
        # A key may be organization-scoped without the box ticked: its prefix says so.
        if not (self.project.organization_key or credentials.is_organization_token(token)):
            return {}
        if self.project.phare_project_id:
            return {"X-Phare-Project-Id": str(self.project.phare_project_id)}
        if self.project.phare_project_slug:
            return {"X-Phare-Project-Slug": self.project.phare_project_slug}
        # Phare would not know which project is meant: nothing is sent.
        raise PhareAuthError(credentials.ORGANIZATION_KEY_NEEDS_PROJECT)

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
            # A write goes ahead: an on-call engineer must not be stopped by Redis or a
            # locked database, and Phare's own 429 still protects Phare.
            logger.warning("rate budget unavailable (%s); writing anyway", type(error).__name__)

    def _note_rate_limited(self, response: httpx.Response) -> None:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        # Retry-After is rounded down and can read 0 in its last second: add one.
        seconds = retry_after + 1 if retry_after is not None else BLOCK_WITHOUT_RETRY_AFTER
        try:
            ratelimit.budget().block(self.project.rate_limit_key, seconds)
            self.unrecorded_pause = 0.0
        except Exception as error:
            logger.warning("rate budget unavailable (%s)", type(error).__name__)
            self.unrecorded_pause = seconds


_http_client: httpx.Client | None = None


_http_client_lock = threading.Lock()


def _shared_http_client() -> httpx.Client:
    """One connection pool per process; base URL and timeouts are read per call."""
    global _http_client
    with _http_client_lock:
        if _http_client is None:
            _http_client = httpx.Client(
                headers=DEFAULT_HEADERS,
                follow_redirects=False,
            )
        return _http_client


def _timeout() -> httpx.Timeout:
    seconds = settings.PHARE_TIMEOUT
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def json_body(
    response: httpx.Response, *, write: bool, write_kind: WriteKind = CREATE_INCIDENT
) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        if write and response.is_success:
            raise PhareOutcomeUnknown(
                f"Phare answered {response.status_code} but its body was not readable JSON. "
                + write_kind.probably,
                status=response.status_code,
                body=response.text[:2000],
            ) from None
        raise PhareBadResponse(
            f"Phare answered {response.status_code} with a body that is not JSON.",
            status=response.status_code,
            body=response.text[:2000],
        ) from None


def error_for(
    response: httpx.Response,
    *,
    write: bool,
    write_kind: WriteKind = CREATE_INCIDENT,
    not_found: str | None = None,
) -> PhareError:
    """Map a non-success answer to its PhareError (see the errors in the Phare README).
    `write_kind` words a write's unknown outcome; `not_found`, when given, is the message of a
    404 on a call naming one object (the default blames the project's id or slug)."""
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, RecursionError):
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
        if not_found is not None:
            return PhareNotFound(not_found, status=status, body=body)
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
            f"Phare's gateway answered {status}. {write_kind.may_have}",
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


def _retry_after(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value is not None else None
    except ValueError:
        return None
