import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.db import DatabaseError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html

logger = logging.getLogger(__name__)


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
