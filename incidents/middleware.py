from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpResponse


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
