"""Answers outside any project: the load balancers' health check and the login lockout page."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: the database, not Phare (Phare being down is no reason to stop
    sending traffic here)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def login_locked_out(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a login past LOGIN_FAILURE_LIMIT failures (a 429)."""
    context = {
        "username": (credentials or {}).get("username", ""),
        "minutes": max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)),
    }
    return render(request, "registration/locked_out.html", context, status=429)


def no_view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    raise Http404("No such page.")
