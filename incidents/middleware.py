import codecs
import logging
import time
import zoneinfo

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.html import format_html

logger = logging.getLogger(__name__)


class FormEncodingMiddleware:
    """A request declaring a charset other than UTF-8 (`Content-Type: ...; charset=utf-16`)
    gets a 400 before anything reads its body. Django refuses such a form only by raising
    BadRequest when request.POST is first read, and its error pages read request.POST again:
    with DEBUG on the exception escapes as a 500. Every page of the console is UTF-8, so a
    browser never sends anything else; spellings of UTF-8 (and ASCII, a subset) are accepted
    and normalised to the one Django checks for."""

    UTF8_CODECS = frozenset({"utf-8", "ascii"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = request.content_params.get("charset") if request.content_params else None
        if charset is not None:
            try:
                codec = codecs.lookup(charset).name
            except LookupError:
                codec = ""
            if codec not in self.UTF8_CODECS:
                return HttpResponseBadRequest(
                    "Forms are read as UTF-8 only; this request declared another encoding.",
                    content_type="text/plain; charset=utf-8",
                )
            request.encoding = "utf-8"
        return self.get_response(request)


class PrivatePagesMiddleware:
    """Answers of views behind the login (pages, partials, exports, the admin) are never kept
    by a browser or a proxy (`Cache-Control: no-store, private`), and vary on HX-Request: the
    same address answers a page or a partial (or a 401 instead of a redirect to the login),
    so nothing may serve one for the other (the django-htmx docs recommend it). Views marked
    login_not_required (the login page, /healthz) keep their own headers; static files never
    get here (WhiteNoise answers them first)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        behind_login = getattr(request, "_behind_login", None)
        if behind_login is None:  # no view answered (a 404): private to whoever is signed in
            user = getattr(request, "user", None)
            behind_login = user is not None and user.is_authenticated
        if behind_login:
            patch_cache_control(response, no_store=True, private=True)
            patch_vary_headers(response, ["HX-Request"])
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Before LoginRequiredMiddleware: a redirect to the login is private too.
        request._behind_login = getattr(view_func, "login_required", True)


class IdleSessionMiddleware(SessionMiddleware):
    """Django's SessionMiddleware, with sessions that end after SESSION_IDLE_HOURS without a
    request (SESSION_COOKIE_AGE) rather than that long after the login.

    SESSION_SAVE_EVERY_REQUEST would do it at the cost of a database (or Redis) write per
    request; instead a signed-in session is saved, which moves its expiry and the cookie's,
    at most every REFRESH_SECONDS (or a tenth of the idle time, if shorter). A session
    therefore ends between SESSION_IDLE_HOURS minus that and SESSION_IDLE_HOURS after the
    last request. When the database refuses that write (read-only, failing over), the page
    is still served and the session keeps its old expiry."""

    REFRESH_SECONDS = 300
    ACTIVE_AT = "_console_active_at"

    def process_response(self, request, response):
        refreshing = self._mark_active(request, response)
        try:
            return super().process_response(request, response)
        except (DatabaseError, SessionInterrupted) as error:  # the latter wraps a failed UPDATE
            if not refreshing:
                raise
            logger.warning("session expiry not moved: %s", type(error).__name__)
            patch_vary_headers(response, ["Cookie"])
            return response

    def _mark_active(self, request, response) -> bool:
        """Note the time in a signed-in session last saved long enough ago; True when that
        is the only change to save."""
        session, user = getattr(request, "session", None), getattr(request, "user", None)
        if session is None or user is None or response.status_code >= 500:
            return False
        if not session.accessed:  # nobody asked who this is (/healthz): leave it alone
            return False
        if not user.is_authenticated:  # read after the view: a login counts, a logout not
            return False
        now = time.time()
        every = min(self.REFRESH_SECONDS, settings.SESSION_COOKIE_AGE / 10)
        last = session.get(self.ACTIVE_AT, 0)
        if isinstance(last, int | float) and 0 <= now - last < every:
            return False
        only_change = not session.modified
        session[self.ACTIVE_AT] = now
        return only_change


class HtmxAwareLoginRequiredMiddleware(LoginRequiredMiddleware):
    """An HTMX request from an expired session gets a 401, not the login page: htmx would
    follow the redirect and swap the login page over the form, losing what was typed. The
    page's script explains the 401 instead (static/incidents/console.js)."""

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            return HttpResponse("Log in again.", status=401, content_type="text/plain")
        return super().handle_no_permission(request, view_func)


def client_ip(request) -> str:
    """The address a request came from, for login throttling. Behind TRUSTED_PROXY_COUNT load
    balancers that each append to X-Forwarded-For, it is that many entries from the right: the
    entries further left are whatever the client chose to send."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


class ServiceUnavailableMiddleware:
    """A database that refuses writes (read-only, failing over) or does not answer becomes a
    503 that says so, never a 500. HTMX requests get the message in the page's banner, so the
    form and what was typed stay."""

    MESSAGE = (
        "The console's database is not accepting changes right now (read-only or "
        "unreachable), so nothing was saved and nothing was sent to Phare. Try again in a "
        "moment; tell the console's admins if it lasts."
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DatabaseError):
            return None
        logger.error("database unavailable: %s", type(exception).__name__)
        if getattr(request, "htmx", False):
            banner = format_html(
                '<div id="page-banner" class="banner banner-error" role="alert">{}</div>',
                self.MESSAGE,
            )
            response = HttpResponse(banner, status=503)
            response["HX-Retarget"] = "#page-banner"
            response["HX-Reswap"] = "outerHTML"
            return response
        return render(request, "unavailable.html", {"message": self.MESSAGE}, status=503)


VIEWER_ZONE_COOKIE = "tz"


class ViewerTimeZoneMiddleware:
    """Times on pages in the viewer's own zone: the page's script keeps the browser's zone in
    a cookie; without it (a first visit, no JavaScript) pages use TIME_ZONE, named beside
    every time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get(VIEWER_ZONE_COOKIE, "")
        try:
            zone = zoneinfo.ZoneInfo(name) if 0 < len(name) <= 64 else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
