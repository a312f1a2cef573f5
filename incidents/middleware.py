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
